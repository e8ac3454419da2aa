package io.shuttle.operator.reconciler;

import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** A {@link ChildStore} that keeps every object handed to {@code apply}, with the live one it replaced. */
final class RecordingStore implements ChildStore {
    /** One {@code apply}: what was sent and what was live. */
    record Applied(HasMetadata sent, HasMetadata live) {
    }

    private final ChildStore delegate;
    final List<Applied> applied = new ArrayList<>();

    RecordingStore(ChildStore delegate) {
        this.delegate = delegate;
    }

    @Override
    public <T extends HasMetadata> Optional<T> get(Class<T> type, String name) {
        return delegate.get(type, name);
    }

    @Override
    public <T extends HasMetadata> T create(T desired) {
        return delegate.create(desired);
    }

    @Override
    public <T extends HasMetadata> T apply(T desired, T actual) {
        applied.add(new Applied(desired, actual));
        return delegate.apply(desired, actual);
    }

    @Override
    public <T extends HasMetadata> void delete(Class<T> type, String name) {
        delegate.delete(type, name);
    }

    @Override
    public List<Pod> pods(Map<String, String> labels) {
        return delegate.pods(labels);
    }

    @Override
    public boolean deletePod(Pod pod) {
        return delegate.deletePod(pod);
    }

    @Override
    public void record(Event event) {
        delegate.record(event);
    }

    @Override
    public boolean serves(ResourceDefinitionContext kind) {
        return delegate.serves(kind);
    }

    @Override
    public Optional<GenericKubernetesResource> getCustom(ResourceDefinitionContext kind, String name) {
        return delegate.getCustom(kind, name);
    }

    @Override
    public GenericKubernetesResource createCustom(ResourceDefinitionContext kind, GenericKubernetesResource desired) {
        return delegate.createCustom(kind, desired);
    }

    @Override
    public GenericKubernetesResource applyCustom(ResourceDefinitionContext kind, GenericKubernetesResource desired,
                                                 GenericKubernetesResource actual) {
        applied.add(new Applied(desired, actual));
        return delegate.applyCustom(kind, desired, actual);
    }

    @Override
    public void deleteCustom(ResourceDefinitionContext kind, String name) {
        delegate.deleteCustom(kind, name);
    }
}
