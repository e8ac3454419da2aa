package io.shuttle.helm;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/** {@code helm lint --strict} of the chart with its default values (and so values.schema.json). */
class ChartLintTest {

    @Test
    void strictLintPasses() {
        LintResult result = new Helm(Chart.dir()).lint().strict().call();
        assertFalse(result.isFailed(), () -> "helm lint --strict failed: " + result.getMessages());
        // Strict lint fails on warnings and errors; only informational notes may remain.
        List<String> notInfo = result.getMessages().stream().filter(m -> !m.startsWith("[INFO]")).toList();
        assertEquals(List.of(), notInfo, "lint messages other than [INFO]");
    }
}
