package io.shuttle.e2e.kube;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The local kubelet's stand-in for cluster DNS. The operator's plan names peers by their
 * StatefulSet DNS names ({@code demo-experts-{ordinal}.demo-experts.NS.svc:7200}), which do not
 * resolve here; this rewrites each pool's {@code addressPattern} into the equivalent
 * {@code addresses} list (docs/PLAN.md allows either) of {@code 127.0.0.1:<host port of that
 * pod's container port>}. Files that are not a JSON object with such pools pass unchanged.
 */
final class PlanAddresses {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** {@code <pod prefix>-{ordinal}.<service>.<namespace>.svc[.cluster.local]:<port>} */
    private static final Pattern STATEFUL_DNS = Pattern.compile(
            "([a-z0-9][-a-z0-9]*)-\\{ordinal}\\.[a-z0-9][-a-z0-9]*\\.[a-z0-9][-a-z0-9]*\\.svc(?:\\.cluster\\.local)?:(\\d+)");

    private PlanAddresses() {
    }

    static String rewrite(String text, HostPorts ports) {
        JsonNode root;
        try {
            root = JSON.readTree(text);
        } catch (Exception notJson) {
            return text;
        }
        if (!(root instanceof ObjectNode object)) {
            return text;
        }
        boolean changed = false;
        for (Map.Entry<String, JsonNode> field : object.properties()) {
            if (field.getValue() instanceof ObjectNode pool && pool.has("addressPattern") && pool.has("replicas")) {
                expand(pool, ports);
                changed = true;
            }
        }
        return changed ? object.toPrettyString() + "\n" : text;
    }

    private static void expand(ObjectNode pool, HostPorts ports) {
        String pattern = pool.get("addressPattern").asText();
        Matcher m = STATEFUL_DNS.matcher(pattern);
        if (!m.matches()) {
            throw new IllegalStateException("the local kubelet cannot map the plan's addressPattern '" + pattern
                    + "': it resolves only StatefulSet pod DNS names <set>-{ordinal}.<service>.<namespace>.svc:<port>");
        }
        int containerPort = Integer.parseInt(m.group(2));
        ArrayNode addresses = JSON.createArrayNode();
        for (int ordinal = 0; ordinal < pool.get("replicas").asInt(); ordinal++) {
            addresses.add("127.0.0.1:" + ports.port(m.group(1) + "-" + ordinal, containerPort));
        }
        // Same field order as before: replace the pattern in place.
        ObjectNode copy = pool.deepCopy();
        pool.removeAll();
        copy.properties().forEach(e -> {
            if (e.getKey().equals("addressPattern")) {
                pool.set("addresses", addresses);
            } else {
                pool.set(e.getKey(), e.getValue());
            }
        });
    }
}
