package io.shuttle.operator.reconciler;

import io.shuttle.operator.api.MoEDeploymentSpec;
import io.shuttle.operator.desired.InvalidSpecException;
import io.shuttle.operator.desired.Topology;
import io.shuttle.operator.desired.TopologyResolver;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Remembers the last topologies by spec, so the plan search runs once per spec change rather
 * than on every pod event. Bounded (least recently used out); refusals are remembered too.
 */
final class TopologyCache {
    private final TopologyResolver resolver;
    private final Map<MoEDeploymentSpec, Object> entries;

    TopologyCache(TopologyResolver resolver, int capacity) {
        this.resolver = resolver;
        this.entries = new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<MoEDeploymentSpec, Object> eldest) {
                return size() > capacity;
            }
        };
    }

    Topology resolve(MoEDeploymentSpec spec) {
        Object cached;
        synchronized (entries) {
            cached = entries.get(spec);
        }
        if (cached == null) {
            try {
                cached = resolver.resolve(spec);
            } catch (InvalidSpecException e) {
                cached = e;
            }
            synchronized (entries) {
                entries.put(spec, cached);
            }
        }
        if (cached instanceof InvalidSpecException e) {
            throw new InvalidSpecException(e.reason(), e.getMessage());
        }
        return (Topology) cached;
    }
}
