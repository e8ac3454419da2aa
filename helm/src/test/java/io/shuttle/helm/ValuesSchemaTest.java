package io.shuttle.helm;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.Map;
import java.util.stream.Stream;

import static io.shuttle.helm.Chart.sets;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** values.schema.json refuses bad values: helm template fails with a schema error naming the key. */
class ValuesSchemaTest {

    static Stream<Arguments> badValues() {
        return Stream.of(
                Arguments.of("negative replicas", sets("replicaCount", -1), "replicaCount"),
                Arguments.of("two replicas without leader election", sets("replicaCount", 2), "replicaCount"),
                Arguments.of("wrong type", sets("replicaCount", "one"), "replicaCount"),
                Arguments.of("unknown top-level key", sets("replicas", 1), "replicas"),
                Arguments.of("unknown nested key", sets("image.name", "x"), "name"),
                Arguments.of("scope outside the enum", sets("rbac.scope", "everything"), "scope"),
                Arguments.of("pull policy outside the enum", sets("image.pullPolicy", "Sometimes"), "pullPolicy"),
                Arguments.of("malformed digest", sets("image.digest", "sha256:abc"), "digest"),
                Arguments.of("watchNamespaces with cluster scope", sets("rbac.scope", "cluster", "rbac.watchNamespaces[0]", "a"),
                        "watchNamespaces"),
                Arguments.of("invalid namespace name", sets("rbac.watchNamespaces[0]", "Team_A"), "watchNamespaces"),
                Arguments.of("port out of range", sets("service.port", 70000), "port"),
                Arguments.of("bubble ratio above 1", sets("monitoring.prometheusRule.thresholds.bubbleRatio", 2), "bubbleRatio"),
                Arguments.of("not a duration", sets("operator.notReadyRecheck", "soon"), "notReadyRecheck"),
                Arguments.of("boolean as text", sets("monitoring.enabled", "yes"), "enabled"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badValues")
    void schemaRejects(String what, Map<String, Object> values, String key) {
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Chart.render(values), what);
        String message = e.getMessage();
        assertTrue(message.contains("values don't meet the specifications of the schema"), () -> what + ": " + message);
        assertTrue(message.contains(key), () -> what + ": the error does not name " + key + ": " + message);
    }
}
