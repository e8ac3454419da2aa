package io.shuttle.operator.desired;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.shuttle.operator.api.MoEDeployment;
import io.shuttle.operator.planner.ModelShape;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;

/** The ConfigMap (plan file, model facts, placement) and the M2N Secret. */
public final class ConfigManifests {
    public static final String PLAN_KEY = "plan.json";
    public static final String MODEL_KEY = "model.json";
    public static final String PLACEMENT_KEY = "placement.json";
    public static final String SECRET_KEY = "secret";
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private ConfigManifests() {
    }

    public static ConfigMap configMap(MoEDeployment owner, Topology topology, String planJson) {
        Map<String, String> data = new LinkedHashMap<>();
        data.put(PLAN_KEY, planJson);
        data.put(MODEL_KEY, json(modelJson(owner, topology)));
        data.put(PLACEMENT_KEY, json(topology.placement()));
        return new ConfigMapBuilder()
                .withMetadata(Owned.meta(owner, Names.configMap(owner.getMetadata().getName()),
                        Names.labels(owner.getMetadata().getName())))
                .withData(data)
                .build();
    }

    private static Map<String, Object> modelJson(MoEDeployment owner, Topology topology) {
        ModelShape s = topology.model().shape();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("source", owner.getSpec().model().source());
        m.put("name", s.name());
        m.put("num_hidden_layers", s.layers());
        m.put("hidden_size", s.hidden());
        m.put("intermediate_size", s.intermediate());
        m.put("num_local_experts", s.experts());
        m.put("num_experts_per_tok", s.topK());
        m.put("num_attention_heads", s.heads());
        m.put("num_key_value_heads", s.kvHeads());
        m.put("head_dim", s.headDim());
        m.put("vocab_size", s.vocab());
        m.put("max_position_embeddings", topology.model().maxPositions());
        return m;
    }

    /**
     * A new M2N Secret with 32 random bytes. The reconciler creates it once and never rewrites
     * it: every pod of the deployment must hold the same value.
     */
    public static Secret m2nSecret(MoEDeployment owner, SecureRandom random) {
        byte[] bytes = new byte[32];
        random.nextBytes(bytes);
        String value = Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
        return new SecretBuilder()
                .withMetadata(Owned.meta(owner, Names.secret(owner.getMetadata().getName()),
                        Names.labels(owner.getMetadata().getName())))
                .withType("Opaque")
                .withData(Map.of(SECRET_KEY, Base64.getEncoder().encodeToString(value.getBytes(StandardCharsets.UTF_8))))
                .build();
    }

    /** Short digest of the secret's value, put on pod templates so a replaced secret restarts all pods together. */
    public static String secretDigest(Secret secret) {
        String data = secret.getData() == null ? null : secret.getData().get(SECRET_KEY);
        return data == null ? "missing" : sha256(data).substring(0, 16);
    }

    public static String sha256(String text) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }

    private static String json(Object value) {
        try {
            return JSON.writeValueAsString(value) + "\n";
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write JSON", e);
        }
    }
}
