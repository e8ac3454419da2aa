package io.shuttle.model.safetensors;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.json.JsonMapper;
import java.math.BigDecimal;
import org.junit.jupiter.api.Test;

/** Expected strings are what CPython 3 prints ({@code repr(float)}, {@code json.dumps(indent=2, sort_keys=True)}). */
class JsonTextTest {

    @Test
    void floatsAsPythonRepr() {
        String[][] cases = {
            {"1e-5", "1e-05"}, {"1e-6", "1e-06"}, {"0.0001", "0.0001"}, {"0.02", "0.02"},
            {"10000", "10000.0"}, {"1e6", "1000000.0"}, {"1e16", "1e+16"},
            {"1234567890123456", "1234567890123456.0"}, {"1.2345678901234568e17", "1.2345678901234568e+17"},
            {"-0.5", "-0.5"}, {"1.25e-5", "1.25e-05"}, {"1e100", "1e+100"}, {"0", "0.0"}, {"3", "3.0"},
            {"2.5e-300", "2.5e-300"}};
        for (String[] c : cases) {
            assertEquals(c[1], JsonText.pythonFloat(new BigDecimal(c[0])), c[0]);
        }
    }

    @Test
    void prettyAsPythonJsonDumps() throws Exception {
        var node = JsonMapper.builder().build().readTree("{\"c\":\"\u00e9\\\"\\n\",\"b\":[1,\"x\",{}],\"a\":{\"z\":null,\"y\":[]}}");
        String expected = """
                {
                  "a": {
                    "y": [],
                    "z": null
                  },
                  "b": [
                    1,
                    "x",
                    {}
                  ],
                  "c": "\\u00e9\\"\\n"
                }""";
        assertEquals(expected, JsonText.pythonPretty(node));
    }

    @Test
    void serdeStringsEscapeOnlyQuotesBackslashesAndControls() {
        assertEquals("\"a\\\"b\\\\c\\n\\u001f\u00e9\"", JsonText.serdeString("a\"b\\c\n\u001f\u00e9"));
    }
}
