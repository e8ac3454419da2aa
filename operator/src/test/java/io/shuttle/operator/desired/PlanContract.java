package io.shuttle.operator.desired;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;

/**
 * docs/PLAN.md's rules, written again from the document for the tests (the operator never links
 * the serving pod's PlanReader). Returns every problem found.
 */
final class PlanContract {
    private static final Set<String> TOP = Set.of("apiVersion", "kind", "deployment", "attention", "experts", "pipeline");
    private static final Set<String> POOL = Set.of("replicas", "addresses", "addressPattern");
    private static final Set<String> EXPERTS = Set.of("replicas", "addresses", "addressPattern", "placement");
    private static final Set<String> PIPELINE = Set.of("microBatches", "maxBatchTokens", "maxRunning", "maxWaiting",
            "maxModelLen", "kvBlocks", "kvBlockSize", "roundTimeoutMillis");

    private PlanContract() {
    }

    static List<String> check(String json, int numExperts, int maxPositions) throws Exception {
        JsonNode p = new ObjectMapper().readTree(json);
        List<String> problems = new ArrayList<>();
        known("", p, TOP, problems);
        if (!"shuttle.io/v1alpha1".equals(p.path("apiVersion").asText()) || !"ServingPlan".equals(p.path("kind").asText())) {
            problems.add("apiVersion/kind");
        }
        if (!p.path("deployment").asText().matches("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")) {
            problems.add("deployment is not a DNS label");
        }
        pool("attention", p.path("attention"), POOL, problems);
        pool("experts", p.path("experts"), EXPERTS, problems);
        JsonNode placement = p.path("experts").path("placement");
        if (!placement.isArray() || placement.size() != p.path("experts").path("replicas").asInt()) {
            problems.add("experts.placement needs one entry per expert pod");
        } else {
            BitSet covered = new BitSet();
            for (JsonNode pod : placement) {
                if (pod.isEmpty()) {
                    problems.add("an expert pod holds no expert");
                }
                BitSet seen = new BitSet();
                for (JsonNode e : pod) {
                    int id = e.asInt(-1);
                    if (!e.isInt() || id < 0 || id >= numExperts || seen.get(id)) {
                        problems.add("bad or duplicate expert id " + e);
                    } else {
                        seen.set(id);
                        covered.set(id);
                    }
                }
            }
            if (covered.cardinality() != numExperts) {
                problems.add("some experts are on no pod");
            }
        }
        JsonNode pipe = p.path("pipeline");
        known("pipeline.", pipe, PIPELINE, problems);
        range(pipe, "microBatches", 1, 16, problems);
        range(pipe, "maxBatchTokens", 1, Integer.MAX_VALUE, problems);
        range(pipe, "maxRunning", 1, pipe.path("maxBatchTokens").asInt(), problems);
        range(pipe, "maxWaiting", 1, Integer.MAX_VALUE, problems);
        range(pipe, "maxModelLen", 1, maxPositions, problems);
        range(pipe, "kvBlocks", 1, Integer.MAX_VALUE, problems);
        range(pipe, "kvBlockSize", 1, Integer.MAX_VALUE, problems);
        range(pipe, "roundTimeoutMillis", 10, 600_000, problems);
        return problems;
    }

    private static void pool(String name, JsonNode pool, Set<String> fields, List<String> problems) {
        known(name + ".", pool, fields, problems);
        int replicas = pool.path("replicas").asInt(0);
        if (replicas < 1) {
            problems.add(name + ".replicas < 1");
        }
        boolean listed = pool.has("addresses");
        boolean pattern = pool.has("addressPattern");
        if (listed == pattern) {
            problems.add(name + ": exactly one of addresses/addressPattern");
        } else if (pattern) {
            String a = pool.path("addressPattern").asText();
            if (!a.contains("{ordinal}") || !a.replace("{ordinal}", "0").matches("[a-z0-9.-]+:[0-9]{1,5}")) {
                problems.add(name + ".addressPattern '" + a + "' is not host-with-{ordinal}:port");
            }
        } else if (pool.path("addresses").size() != replicas) {
            problems.add(name + ".addresses needs one per replica");
        }
    }

    private static void known(String prefix, JsonNode node, Set<String> fields, List<String> problems) {
        if (!node.isObject()) {
            problems.add(prefix + " missing");
            return;
        }
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!fields.contains(f)) {
                problems.add("unknown field " + prefix + f);
            }
        }
    }

    private static void range(JsonNode pipe, String field, int min, int max, List<String> problems) {
        JsonNode v = pipe.path(field);
        if (!v.isInt() || v.asInt() < min || v.asInt() > max) {
            problems.add("pipeline." + field + " = " + v + " outside " + min + ".." + max);
        }
    }
}
