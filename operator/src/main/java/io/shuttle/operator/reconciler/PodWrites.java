package io.shuttle.operator.reconciler;

import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;

import java.net.HttpURLConnection;

/** The writes both {@link ChildStore}s make on the API directly: deleting a pod, recording an Event. */
final class PodWrites {
    private PodWrites() {
    }

    /** See {@link ChildStore#deletePod}. */
    static boolean delete(KubernetesClient client, Pod pod) {
        try {
            return !client.pods().inNamespace(pod.getMetadata().getNamespace()).withName(pod.getMetadata().getName())
                    .lockResourceVersion(pod.getMetadata().getResourceVersion()).delete().isEmpty();
        } catch (KubernetesClientException e) {
            // 409: the precondition failed (a new incarnation, or the old one changed since the cache saw it).
            if (e.getCode() == HttpURLConnection.HTTP_CONFLICT || e.getCode() == HttpURLConnection.HTTP_NOT_FOUND) {
                return false;
            }
            throw e;
        }
    }

    static void record(KubernetesClient client, Event event) {
        client.v1().events().inNamespace(event.getMetadata().getNamespace()).resource(event).create();
    }
}
