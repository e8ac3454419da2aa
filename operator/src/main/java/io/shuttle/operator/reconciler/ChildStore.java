package io.shuttle.operator.reconciler;

import io.fabric8.kubernetes.api.model.HasMetadata;

import java.util.Optional;

/** Reads and writes a deployment's children: from JOSDK's caches in the operator, from the API in tests. */
public interface ChildStore {

    /** The live child of that type and name in the deployment's namespace. */
    <T extends HasMetadata> Optional<T> get(Class<T> type, String name);

    /** Creates a child that does not exist yet. */
    <T extends HasMetadata> T create(T desired);

    /** Brings an existing child to the desired content (server-side apply, or an update in tests). */
    <T extends HasMetadata> T apply(T desired, T actual);
}
