package io.shuttle.plan;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;

/**
 * Reads and validates a serving plan against the model it will serve. All problems are
 * collected and reported together, each with its JSON path and what to do.
 */
public final class PlanReader {
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES);

    private PlanReader() {
    }

    /** Reads {@code file} and checks it for a model with {@code numExperts} experts. */
    public static ServingPlan read(Path file, int numExperts) {
        String text;
        try {
            text = Files.readString(file);
        } catch (NoSuchFileException e) {
            throw new PlanException(file.toString(), List.of("the file does not exist"));
        } catch (IOException e) {
            throw new PlanException(file.toString(), List.of("cannot read the file: " + e.getMessage()));
        }
        return parse(file.toString(), text, numExperts);
    }

    /** Parses and checks plan JSON; {@code source} names it in errors. */
    public static ServingPlan parse(String source, String json, int numExperts) {
        ServingPlan plan;
        try {
            plan = JSON.readValue(json, ServingPlan.class);
        } catch (UnrecognizedPropertyException e) {
            throw new PlanException(source, List.of("unknown field '" + e.getPropertyName() + "' at "
                    + path(e) + "; known fields: " + e.getKnownPropertyIds()));
        } catch (JsonProcessingException e) {
            throw new PlanException(source, List.of("not valid plan JSON at line " + e.getLocation().getLineNr()
                    + ": " + e.getOriginalMessage()));
        }
        List<String> problems = validate(plan, numExperts);
        if (!problems.isEmpty()) {
            throw new PlanException(source, problems);
        }
        return plan;
    }

    /** Serialises a plan (for {@code shuttle local} and tests). */
    public static String toJson(ServingPlan plan) {
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(plan);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    static List<String> validate(ServingPlan p, int numExperts) {
        List<String> problems = new ArrayList<>();
        if (p == null) {
            return List.of("the file is empty");
        }
        if (!ServingPlan.API_VERSION.equals(p.apiVersion())) {
            problems.add("apiVersion is '" + p.apiVersion() + "'; this Shuttle reads '" + ServingPlan.API_VERSION + "'");
        }
        if (!ServingPlan.KIND.equals(p.kind())) {
            problems.add("kind is '" + p.kind() + "'; expected '" + ServingPlan.KIND + "'");
        }
        if (p.deployment() == null || !p.deployment().matches("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")) {
            problems.add("deployment must be a DNS label (lowercase letters, digits, '-'), got '" + p.deployment() + "'");
        }
        if (p.attention() == null) {
            problems.add("attention is missing");
        } else {
            checkPool("attention", p.attention(), problems);
        }
        if (p.experts() == null) {
            problems.add("experts is missing");
        } else {
            checkPool("experts", p.experts().pool(), problems);
            checkPlacement(p.experts(), numExperts, problems);
        }
        if (p.pipeline() == null) {
            problems.add("pipeline is missing");
        } else {
            checkPipeline(p.pipeline(), problems);
        }
        return problems;
    }

    private static void checkPool(String name, ServingPlan.Pool pool, List<String> problems) {
        if (pool.replicas() == null || pool.replicas() < 1) {
            problems.add(name + ".replicas must be ≥ 1, got " + pool.replicas());
            return;
        }
        boolean listed = pool.addresses() != null;
        boolean pattern = pool.addressPattern() != null;
        if (listed == pattern) {
            problems.add(name + ": give exactly one of addresses (one per replica) or addressPattern (with {ordinal})");
            return;
        }
        if (listed) {
            if (pool.addresses().size() != pool.replicas()) {
                problems.add(name + ".addresses has " + pool.addresses().size() + " entries for " + pool.replicas()
                        + " replicas");
            }
            for (int i = 0; i < pool.addresses().size(); i++) {
                checkAddress(name + ".addresses[" + i + "]", pool.addresses().get(i), problems);
            }
        } else if (!pool.addressPattern().contains("{ordinal}")) {
            problems.add(name + ".addressPattern must contain {ordinal}, got '" + pool.addressPattern() + "'");
        } else {
            checkAddress(name + ".addressPattern", pool.addressPattern().replace("{ordinal}", "0"), problems);
        }
    }

    private static void checkAddress(String where, String address, List<String> problems) {
        int colon = address == null ? -1 : address.lastIndexOf(':');
        if (colon <= 0) {
            problems.add(where + " must be host:port, got '" + address + "'");
            return;
        }
        try {
            int port = Integer.parseInt(address.substring(colon + 1));
            if (port < 1 || port > 65535) {
                problems.add(where + " has port " + port + " outside 1..65535");
            }
        } catch (NumberFormatException e) {
            problems.add(where + " has a port that is not a number: '" + address + "'");
        }
    }

    private static void checkPlacement(ServingPlan.ExpertPool experts, int numExperts, List<String> problems) {
        List<List<Integer>> placement = experts.placement();
        if (placement == null) {
            problems.add("experts.placement is missing: list, for each expert pod, the expert ids it holds");
            return;
        }
        if (experts.replicas() != null && placement.size() != experts.replicas()) {
            problems.add("experts.placement has " + placement.size() + " entries for " + experts.replicas()
                    + " expert pods");
        }
        BitSet covered = new BitSet(numExperts);
        for (int pod = 0; pod < placement.size(); pod++) {
            List<Integer> ids = placement.get(pod);
            if (ids == null || ids.isEmpty()) {
                problems.add("experts.placement[" + pod + "] is empty: every expert pod must hold at least one expert");
                continue;
            }
            BitSet seen = new BitSet(numExperts);
            for (Integer e : ids) {
                if (e == null || e < 0 || e >= numExperts) {
                    problems.add("experts.placement[" + pod + "] names expert " + e + "; the model has experts 0.."
                            + (numExperts - 1));
                } else if (seen.get(e)) {
                    problems.add("experts.placement[" + pod + "] lists expert " + e + " twice");
                } else {
                    seen.set(e);
                    covered.set(e);
                }
            }
        }
        if (covered.cardinality() < numExperts) {
            BitSet missing = new BitSet(numExperts);
            missing.set(0, numExperts);
            missing.andNot(covered);
            problems.add("experts.placement leaves experts " + missing + " on no pod; every expert needs at least one");
        }
    }

    private static void checkPipeline(ServingPlan.Pipeline p, List<String> problems) {
        positive("pipeline.microBatches", p.microBatches(), 1, 16, problems);
        positive("pipeline.maxBatchTokens", p.maxBatchTokens(), 1, 1 << 20, problems);
        positive("pipeline.maxRunning", p.maxRunning(), 1, 1 << 16, problems);
        positive("pipeline.maxWaiting", p.maxWaiting(), 1, 1 << 20, problems);
        positive("pipeline.maxModelLen", p.maxModelLen(), 1, 1 << 24, problems);
        positive("pipeline.kvBlocks", p.kvBlocks(), 1, 1 << 24, problems);
        positive("pipeline.kvBlockSize", p.kvBlockSize(), 1, 1024, problems);
        positive("pipeline.roundTimeoutMillis", p.roundTimeoutMillis(), 10, 600_000, problems);
        if (p.maxRunning() != null && p.maxBatchTokens() != null && p.maxRunning() > p.maxBatchTokens()) {
            problems.add("pipeline.maxRunning (" + p.maxRunning() + ") cannot exceed pipeline.maxBatchTokens ("
                    + p.maxBatchTokens() + ")");
        }
    }

    private static void positive(String field, Integer value, int min, int max, List<String> problems) {
        if (value == null) {
            problems.add(field + " is missing");
        } else if (value < min || value > max) {
            problems.add(field + " must be in " + min + ".." + max + ", got " + value);
        }
    }

    private static String path(UnrecognizedPropertyException e) {
        StringBuilder sb = new StringBuilder();
        for (var ref : e.getPath()) {
            if (ref.getFieldName() != null) {
                sb.append(sb.isEmpty() ? "" : ".").append(ref.getFieldName());
            } else if (ref.getIndex() >= 0) {
                sb.append('[').append(ref.getIndex()).append(']');
            }
        }
        return sb.isEmpty() ? "the top level" : sb.toString();
    }
}
