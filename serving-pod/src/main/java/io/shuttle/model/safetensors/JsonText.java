package io.shuttle.model.safetensors;

import com.fasterxml.jackson.databind.JsonNode;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * JSON text spelled exactly as the Hugging Face tools spell it, so that files we write are
 * byte-identical to theirs: compact strings as serde_json writes them (safetensors headers) and
 * Python's {@code json.dumps(obj, indent=2, sort_keys=True)} (config.json, the shard index).
 */
public final class JsonText {

    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private JsonText() {
    }

    /** A JSON string literal as serde_json writes it: only quote, backslash and control characters escaped. */
    public static String serdeString(String s) {
        StringBuilder out = new StringBuilder(s.length() + 2).append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"' || c == '\\' || c < 0x20) {
                escape(out, c);
            } else {
                out.append(c);
            }
        }
        return out.append('"').toString();
    }

    /** A JSON string literal as Python's json module writes it with ensure_ascii (the default). */
    public static String pythonString(String s) {
        StringBuilder out = new StringBuilder(s.length() + 2).append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"' || c == '\\' || c < 0x20 || c > 0x7e) {
                escape(out, c);
            } else {
                out.append(c);
            }
        }
        return out.append('"').toString();
    }

    private static void escape(StringBuilder out, char c) {
        switch (c) {
            case '"' -> out.append("\\\"");
            case '\\' -> out.append("\\\\");
            case '\b' -> out.append("\\b");
            case '\f' -> out.append("\\f");
            case '\n' -> out.append("\\n");
            case '\r' -> out.append("\\r");
            case '\t' -> out.append("\\t");
            default -> out.append("\\u").append(HEX[(c >> 12) & 0xF]).append(HEX[(c >> 8) & 0xF])
                    .append(HEX[(c >> 4) & 0xF]).append(HEX[c & 0xF]);
        }
    }

    /**
     * A decimal number as Python's {@code repr(float)} writes it: shortest round-trip digits,
     * exponent notation below 1e-4 and from 1e16 ("1e-05", "10000.0", "1e+16").
     */
    public static String pythonFloat(BigDecimal value) {
        BigDecimal v = value.stripTrailingZeros();
        if (v.signum() == 0) {
            return "0.0";
        }
        String sign = v.signum() < 0 ? "-" : "";
        String digits = v.unscaledValue().abs().toString();
        int decpt = digits.length() - v.scale();   // value = 0.digits × 10^decpt
        if (decpt <= -4 || decpt > 16) {
            String mantissa = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
            int exp = decpt - 1;
            return sign + mantissa + "e" + (exp < 0 ? "-" : "+") + (Math.abs(exp) < 10 ? "0" : "") + Math.abs(exp);
        }
        String plain = v.abs().toPlainString();
        return sign + (plain.contains(".") ? plain : plain + ".0");
    }

    /** Python's {@code json.dumps(node, indent=2, sort_keys=True)}; floats in Python repr. */
    public static String pythonPretty(JsonNode node) {
        StringBuilder out = new StringBuilder();
        pretty(node, 0, out);
        return out.toString();
    }

    private static void pretty(JsonNode node, int depth, StringBuilder out) {
        String indent = "  ".repeat(depth + 1);
        if (node.isObject()) {
            if (node.isEmpty()) {
                out.append("{}");
                return;
            }
            List<Map.Entry<String, JsonNode>> fields = new ArrayList<>(node.properties());
            fields.sort(Map.Entry.comparingByKey());
            out.append("{\n");
            for (int i = 0; i < fields.size(); i++) {
                out.append(indent).append(pythonString(fields.get(i).getKey())).append(": ");
                pretty(fields.get(i).getValue(), depth + 1, out);
                out.append(i + 1 < fields.size() ? ",\n" : "\n");
            }
            out.append("  ".repeat(depth)).append('}');
        } else if (node.isArray()) {
            if (node.isEmpty()) {
                out.append("[]");
                return;
            }
            out.append("[\n");
            for (int i = 0; i < node.size(); i++) {
                out.append(indent);
                pretty(node.get(i), depth + 1, out);
                out.append(i + 1 < node.size() ? ",\n" : "\n");
            }
            out.append("  ".repeat(depth)).append(']');
        } else if (node.isTextual()) {
            out.append(pythonString(node.textValue()));
        } else if (node.isFloatingPointNumber()) {
            out.append(pythonFloat(floatingValue(node)));
        } else {
            out.append(node.toString());   // integers, booleans, null
        }
    }

    private static BigDecimal floatingValue(JsonNode node) {
        if (node.isFloat()) {
            float f = node.floatValue();   // shortest float digits, so 1e-5f prints as 1e-05, not 9.99...e-06
            requireFinite(Float.isFinite(f), node);
            return new BigDecimal(Float.toString(f));
        }
        if (node.isDouble()) {
            requireFinite(Double.isFinite(node.doubleValue()), node);
            return new BigDecimal(Double.toString(node.doubleValue()));
        }
        return node.decimalValue();
    }

    private static void requireFinite(boolean finite, JsonNode node) {
        if (!finite) {
            throw new IllegalArgumentException("JSON cannot hold the non-finite number " + node);
        }
    }
}
