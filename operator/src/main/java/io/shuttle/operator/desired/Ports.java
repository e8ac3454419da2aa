package io.shuttle.operator.desired;

import io.shuttle.operator.api.ApiSpec;
import io.shuttle.operator.api.M2nSpec;
import io.shuttle.operator.api.MoEDeploymentSpec;

/**
 * The ports of a deployment. Both roles serve their HTTP endpoint (health, stats; the API on
 * attention pods) on the API port: every pod has its own IP, so they need not differ.
 *
 * @param http          HTTP port of every pod and of the client Service
 * @param attentionM2n  M2N port of attention pods
 * @param expertM2n     M2N port of expert pods
 */
public record Ports(int http, int attentionM2n, int expertM2n) {

    public static Ports of(MoEDeploymentSpec spec) {
        ApiSpec api = spec.api();
        M2nSpec m2n = spec.m2n();
        int http = api == null ? ApiSpec.DEFAULT_PORT : api.portOrDefault();
        int a = m2n == null || m2n.attentionPort() == null ? M2nSpec.DEFAULT_ATTENTION_PORT : m2n.attentionPort();
        int e = m2n == null || m2n.expertPort() == null ? M2nSpec.DEFAULT_EXPERT_PORT : m2n.expertPort();
        if (a == e || http == a || http == e) {
            throw new InvalidSpecException("InvalidPorts", "api.port " + http + ", m2n.attentionPort " + a
                    + " and m2n.expertPort " + e + " must all differ");
        }
        return new Ports(http, a, e);
    }

    public int m2n(Role role) {
        return role == Role.ATTENTION ? attentionM2n : expertM2n;
    }
}
