package io.shuttle.operator.desired;

import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.ServicePortBuilder;
import io.shuttle.operator.api.MoEDeployment;

/** Headless Services (pods' stable DNS names) and the client Service. */
public final class ServiceManifests {
    private ServiceManifests() {
    }

    /**
     * The role's headless Service. It publishes not-ready pods: peers must resolve each other
     * while they are still starting, before any of them can become ready.
     */
    public static Service headless(MoEDeployment owner, Role role, Ports ports) {
        String name = owner.getMetadata().getName();
        return new ServiceBuilder()
                .withMetadata(Owned.meta(owner, Names.headlessService(name, role), Names.roleLabels(name, role)))
                .withNewSpec()
                .withClusterIP("None")
                .withPublishNotReadyAddresses(true)
                .withSelector(Names.selector(name, role))
                .withPorts(port("m2n", ports.m2n(role)), port("http", ports.http()))
                .endSpec()
                .build();
    }

    /** The client Service: the attention pods' HTTP API, ready pods only. */
    public static Service client(MoEDeployment owner, Ports ports) {
        String name = owner.getMetadata().getName();
        return new ServiceBuilder()
                .withMetadata(Owned.meta(owner, Names.clientService(name), Names.roleLabels(name, Role.ATTENTION)))
                .withNewSpec()
                .withType("ClusterIP")
                .withSelector(Names.selector(name, Role.ATTENTION))
                .withPorts(port("http", ports.http()))
                .endSpec()
                .build();
    }

    /** {@code http://NAME.NAMESPACE.svc:PORT} */
    public static String endpoint(MoEDeployment owner, Ports ports) {
        return "http://" + Names.clientService(owner.getMetadata().getName()) + "." + owner.getMetadata().getNamespace()
                + ".svc:" + ports.http();
    }

    private static ServicePort port(String name, int port) {
        return new ServicePortBuilder().withName(name).withProtocol("TCP").withPort(port)
                .withTargetPort(new IntOrString(name)).build();
    }
}
