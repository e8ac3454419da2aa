package io.shuttle.e2e.kube;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.client.KubernetesClient;

import java.net.URI;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * What kube-proxy does for a ClusterIP Service, here: the Service's selector picks the pods (from
 * the API server, as the EndpointSlice controller would), only Ready ones unless the Service
 * publishes not-ready addresses, and each is reached at the host port the local kubelet mapped
 * its target port to. Requests go round-robin over the endpoints.
 */
public final class ServiceProxy {
    private final KubernetesClient client;
    private final LocalKubelet kubelet;
    private final String namespace;
    private final AtomicInteger next = new AtomicInteger();

    public ServiceProxy(KubernetesClient client, LocalKubelet kubelet, String namespace) {
        this.client = client;
        this.kubelet = kubelet;
        this.namespace = namespace;
    }

    /** The endpoints of Service {@code name}'s port {@code portName}, sorted by pod name. */
    public List<URI> endpoints(String name, String portName) {
        Service service = client.services().inNamespace(namespace).withName(name).get();
        if (service == null) {
            throw new IllegalStateException("Service " + namespace + "/" + name + " does not exist");
        }
        ServicePort port = service.getSpec().getPorts().stream().filter(p -> portName.equals(p.getName())).findFirst()
                .orElseThrow(() -> new IllegalStateException("Service " + name + " has no port named " + portName));
        String target = port.getTargetPort() == null ? Integer.toString(port.getPort())
                : port.getTargetPort().getStrVal() != null ? port.getTargetPort().getStrVal()
                : Integer.toString(port.getTargetPort().getIntVal());
        boolean notReadyToo = Boolean.TRUE.equals(service.getSpec().getPublishNotReadyAddresses());
        Map<String, String> selector = service.getSpec().getSelector();
        return client.pods().inNamespace(namespace).withLabels(selector).list().getItems().stream()
                .filter(p -> notReadyToo || ready(p))
                .map(p -> p.getMetadata().getName()).sorted()
                .map(pod -> kubelet.podUrl(pod, target)).flatMap(Optional::stream)
                .toList();
    }

    /** The next endpoint, round-robin; fails when the Service has none (clients would get "connection refused"). */
    public URI next(String name, String portName) {
        List<URI> endpoints = endpoints(name, portName);
        if (endpoints.isEmpty()) {
            throw new IllegalStateException("Service " + name + " has no ready endpoints");
        }
        return endpoints.get(Math.floorMod(next.getAndIncrement(), endpoints.size()));
    }

    static boolean ready(Pod p) {
        return p.getStatus() != null && p.getStatus().getConditions() != null && p.getStatus().getConditions().stream()
                .anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()));
    }
}
