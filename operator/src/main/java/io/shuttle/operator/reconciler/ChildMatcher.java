package io.shuttle.operator.reconciler;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Quantity;

import java.util.Iterator;
import java.util.Map;

/**
 * Does a live child already say everything the desired one says? "Everything" means: each field
 * set in the desired object has the same value in the live one (maps compared key by key, lists
 * element by element with equal length), so fields the API server fills in (defaults, status,
 * cluster IPs) never count as drift, while an edited or removed field does. Quantities compare by
 * value ("1000m" = "1"). Metadata: labels, annotations and owner references, the same way.
 */
public final class ChildMatcher {
    private static final ObjectMapper JSON = new ObjectMapper();

    private ChildMatcher() {
    }

    public static boolean matches(HasMetadata desired, HasMetadata actual) {
        JsonNode d = JSON.valueToTree(desired);
        JsonNode a = JSON.valueToTree(actual);
        for (String meta : new String[] {"labels", "annotations", "ownerReferences"}) {
            if (!contains(a.path("metadata").path(meta), d.path("metadata").path(meta))) {
                return false;
            }
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = d.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> field = it.next();
            String name = field.getKey();
            if (name.equals("metadata") || name.equals("status") || name.equals("apiVersion") || name.equals("kind")) {
                continue;
            }
            if (!contains(a.path(name), field.getValue())) {
                return false;
            }
        }
        return true;
    }

    static boolean contains(JsonNode actual, JsonNode desired) {
        if (desired == null || desired.isNull() || desired.isMissingNode()) {
            return true;
        }
        if (desired.isObject()) {
            if (desired.isEmpty() && (actual.isMissingNode() || actual.isNull())) {
                return true;
            }
            if (!actual.isObject()) {
                return false;
            }
            for (Iterator<Map.Entry<String, JsonNode>> it = desired.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> f = it.next();
                if (!contains(actual.path(f.getKey()), f.getValue())) {
                    return false;
                }
            }
            return true;
        }
        if (desired.isArray()) {
            if (desired.isEmpty() && (actual.isMissingNode() || actual.isNull())) {
                return true;
            }
            if (!actual.isArray() || actual.size() != desired.size()) {
                return false;
            }
            for (int i = 0; i < desired.size(); i++) {
                if (!contains(actual.get(i), desired.get(i))) {
                    return false;
                }
            }
            return true;
        }
        if (desired.isNumber() && actual.isNumber()) {
            return desired.decimalValue().compareTo(actual.decimalValue()) == 0;
        }
        if (desired.isTextual() && actual.isTextual() && !desired.asText().equals(actual.asText())) {
            return sameQuantity(desired.asText(), actual.asText());
        }
        return desired.equals(actual);
    }

    private static boolean sameQuantity(String a, String b) {
        try {
            return Quantity.getAmountInBytes(new Quantity(a)).compareTo(Quantity.getAmountInBytes(new Quantity(b))) == 0;
        } catch (RuntimeException e) {
            return false;
        }
    }
}
