package io.shuttle.operator.desired;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.List;

/**
 * The plan file every pod mounts — the contract with the serving pod, documented in
 * {@code docs/PLAN.md} and read by {@code io.shuttle.plan.PlanReader}. The operator never links
 * the serving runtime, so the format is written here field by field, in the documented order.
 */
public final class ServingPlanJson {
    public static final String API_VERSION = "shuttle.io/v1alpha1";
    public static final String KIND = "ServingPlan";
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private ServingPlanJson() {
    }

    /** The plan file's text: {@link #write} of {@link #tree}. */
    public static String of(String deployment, String namespace, Topology topology, int attentionPort, int expertPort) {
        return write(tree(deployment, namespace, topology, attentionPort, expertPort));
    }

    /**
     * The plan as a tree, its fields in the documented order (so {@link #write} gives the same
     * text for the same plan; {@link PlanHashes} digests parts of it).
     *
     * @param deployment    the MoEDeployment's name (also the M2N deployment id's source)
     * @param namespace     its namespace (pods' DNS names)
     * @param topology      the resolved deployment
     * @param attentionPort M2N port of attention pods
     * @param expertPort    M2N port of expert pods
     */
    public static ObjectNode tree(String deployment, String namespace, Topology topology, int attentionPort, int expertPort) {
        ObjectNode root = JSON.createObjectNode();
        root.put("apiVersion", API_VERSION);
        root.put("kind", KIND);
        root.put("deployment", deployment);
        ObjectNode attention = root.putObject("attention");
        attention.put("replicas", topology.attention().pods());
        attention.put("addressPattern", addressPattern(deployment, namespace, Role.ATTENTION, attentionPort));
        ObjectNode experts = root.putObject("experts");
        experts.put("replicas", topology.experts().pods());
        experts.put("addressPattern", addressPattern(deployment, namespace, Role.EXPERTS, expertPort));
        ArrayNode placement = experts.putArray("placement");
        for (List<Integer> ids : topology.placement()) {
            ArrayNode pod = placement.addArray();
            ids.forEach(pod::add);
        }
        Topology.PipelineLimits p = topology.pipeline();
        ObjectNode pipeline = root.putObject("pipeline");
        pipeline.put("microBatches", p.microBatches());
        pipeline.put("maxBatchTokens", p.maxBatchTokens());
        pipeline.put("maxRunning", p.maxRunning());
        pipeline.put("maxWaiting", p.maxWaiting());
        pipeline.put("maxModelLen", p.maxModelLen());
        pipeline.put("kvBlocks", p.kvBlocks());
        pipeline.put("kvBlockSize", p.kvBlockSize());
        pipeline.put("roundTimeoutMillis", p.roundTimeoutMillis());
        return root;
    }

    /** The text of a plan tree or of a part of one, fields in the tree's order. */
    static String write(JsonNode plan) {
        try {
            return JSON.writeValueAsString(plan) + "\n";
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write the plan JSON", e);
        }
    }

    /** A StatefulSet pod's stable DNS name through the role's headless Service, with {@code {ordinal}}. */
    static String addressPattern(String deployment, String namespace, Role role, int port) {
        String set = Names.statefulSet(deployment, role);
        return set + "-{ordinal}." + Names.headlessService(deployment, role) + "." + namespace + ".svc:" + port;
    }
}
