package io.shuttle.operator.api;

import io.fabric8.crdv2.generator.CRDGenerator;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.client.utils.Serialization;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * crds/ must hold the CRD generated from the Java classes (the same Fabric8 generator that
 * Quarkus Operator SDK runs at build time). Refresh with
 * {@code ./mvnw -pl operator -am test -Dtest=CrdFreshnessTest -Dshuttle.crds.update=true -Dsurefire.failIfNoSpecifiedTests=false}.
 */
class CrdFreshnessTest {
    static final String FILE = "moedeployments.shuttle.io-v1.yml";

    @Test
    void committedCrdMatchesTheJavaClasses(@TempDir Path tmp) throws Exception {
        new CRDGenerator().customResourceClasses(MoEDeployment.class).forCRDVersions("v1").inOutputDir(tmp.toFile()).generate();
        Path generated = tmp.resolve(FILE);
        Path committed = Path.of(System.getProperty("shuttle.crds.dir", "../crds")).resolve(FILE);
        if (Boolean.getBoolean("shuttle.crds.update")) {
            Files.copy(generated, committed, StandardCopyOption.REPLACE_EXISTING);
        }
        assertTrue(Files.exists(committed), committed + " is missing; " + howToRefresh());
        assertEquals(Files.readString(generated), Files.readString(committed),
                committed + " is stale: the MoEDeployment classes changed; " + howToRefresh());
    }

    @Test
    void crdHasTheAgreedNamesColumnsAndRules() throws Exception {
        Path committed = Path.of(System.getProperty("shuttle.crds.dir", "../crds")).resolve(FILE);
        CustomResourceDefinition crd = Serialization.unmarshal(Files.readString(committed), CustomResourceDefinition.class);
        assertEquals("shuttle.io", crd.getSpec().getGroup());
        assertEquals("Namespaced", crd.getSpec().getScope());
        assertEquals("moe", crd.getSpec().getNames().getShortNames().getFirst());
        var version = crd.getSpec().getVersions().getFirst();
        assertEquals("v1alpha1", version.getName());
        assertTrue(version.getSubresources().getStatus() != null, "status subresource");
        assertEquals(java.util.Set.of("Phase", "Attention", "Experts", "Plan", "Age"), version.getAdditionalPrinterColumns()
                .stream().map(c -> c.getName()).collect(java.util.stream.Collectors.toSet()));
        var spec = version.getSchema().getOpenAPIV3Schema().getProperties().get("spec");
        assertEquals(java.util.List.of("attention", "experts", "image", "model"), spec.getRequired());
        assertTrue(spec.getXKubernetesValidations().size() >= 4, "cross-field CEL rules on spec");
        var replicas = spec.getProperties().get("attention").getProperties().get("replicas");
        assertEquals(1, replicas.getMinimum().intValue());
    }

    @Test
    void autoscalingIsValidatedByTheSchemaAndCel() throws Exception {
        Path committed = Path.of(System.getProperty("shuttle.crds.dir", "../crds")).resolve(FILE);
        CustomResourceDefinition crd = Serialization.unmarshal(Files.readString(committed), CustomResourceDefinition.class);
        var spec = crd.getSpec().getVersions().getFirst().getSchema().getOpenAPIV3Schema().getProperties().get("spec");
        var autoscaling = spec.getProperties().get("autoscaling");
        for (String role : java.util.List.of("attention", "experts")) {
            var r = autoscaling.getProperties().get(role);
            assertEquals(java.util.List.of("hpa", "keda"), r.getProperties().get("provider").getEnum().stream()
                    .map(n -> n.asText()).toList());
            assertEquals(1, r.getProperties().get("minReplicas").getMinimum().intValue());
            var rules = r.getXKubernetesValidations().stream().map(v -> v.getRule()).toList();
            assertTrue(rules.stream().anyMatch(x -> x.contains("self.minReplicas <= self.maxReplicas")), rules.toString());
            assertTrue(rules.stream().anyMatch(x -> x.contains("has(self.metric) && has(self.target)")), rules.toString());
            assertTrue(rules.stream().anyMatch(x -> x.contains("has(self.serverAddress)")), rules.toString());
        }
        assertTrue(autoscaling.getProperties().get("ratio").getXKubernetesValidations().getFirst().getRule()
                .contains("self.min <= self.max"));
        assertTrue(spec.getXKubernetesValidations().stream().anyMatch(v -> v.getRule().contains("self.autoscaling.experts.enabled")),
                "explicit placement and expert autoscaling exclude each other");
        assertEquals(0, spec.getProperties().get("pipeline").getProperties().get("drainSeconds").getMinimum().intValue());
        assertTrue(version(crd).getSchema().getOpenAPIV3Schema().getProperties().get("status").getProperties()
                .containsKey("autoscaling"));
    }

    private static io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinitionVersion version(
            CustomResourceDefinition crd) {
        return crd.getSpec().getVersions().getFirst();
    }

    private static String howToRefresh() {
        return "run ./mvnw -pl operator -am test -Dtest=CrdFreshnessTest -Dshuttle.crds.update=true "
                + "-Dsurefire.failIfNoSpecifiedTests=false and commit crds/" + FILE;
    }
}
