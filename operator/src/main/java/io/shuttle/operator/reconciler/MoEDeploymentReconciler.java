package io.shuttle.operator.reconciler;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.javaoperatorsdk.operator.api.config.informer.InformerEventSourceConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.EventSourceContext;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.javaoperatorsdk.operator.processing.event.source.EventSource;
import io.javaoperatorsdk.operator.processing.event.source.informer.InformerEventSource;
import io.javaoperatorsdk.operator.processing.event.source.informer.Mappers;
import io.shuttle.operator.api.MoEDeployment;
import io.shuttle.operator.api.MoEDeploymentStatus;
import io.shuttle.operator.desired.InvalidSpecException;
import io.shuttle.operator.desired.Names;
import io.shuttle.operator.desired.Ports;
import io.shuttle.operator.desired.Role;
import io.shuttle.operator.desired.ServiceManifests;
import io.shuttle.operator.desired.Topology;
import io.shuttle.operator.desired.TopologyResolver;
import io.shuttle.operator.planner.Planner;
import jakarta.inject.Inject;

import java.security.SecureRandom;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Reconciles a {@code MoEDeployment} into its ConfigMap, Secret, Services, StatefulSets, PDBs and,
 * for autoscaled pools, HPAs or KEDA ScaledObjects. A StatefulSet event (an autoscaler changed
 * its replicas) reconciles too: the new count goes into the plan and the other pool's bounds.
 *
 * <p>Why explicit apply instead of JOSDK dependent resources: the plan must be resolved once,
 * before any child is touched, and an invalid plan must stop every child from changing (no
 * half-built deployment); the Secret is create-only and its digest feeds the pod templates; and
 * the "does the live child already match?" rule ({@link ChildMatcher}) is ours and the same with
 * or without server-side apply, so the no-write guarantee for an unchanged deployment is tested
 * here on the mock server exactly as it runs on a cluster. JOSDK still provides the informers
 * (children mapped back by owner reference, pods by label) and the read-your-writes cache.
 */
@ControllerConfiguration(name = MoEDeploymentReconciler.NAME)
public class MoEDeploymentReconciler implements Reconciler<MoEDeployment> {
    public static final String NAME = "moedeployment";

    private final OperatorConfig config;
    private final TopologyCache topologies;
    private final ChildReconciler children;
    private final Clock clock;

    @Inject
    public MoEDeploymentReconciler(OperatorConfig config) {
        this(config, TopologyResolver.withEstimates(new Planner()::search), new SecureRandom(), Clock.systemUTC());
    }

    public MoEDeploymentReconciler(OperatorConfig config, TopologyResolver resolver, SecureRandom random, Clock clock) {
        this.config = config;
        this.topologies = new TopologyCache(resolver, 64);
        this.children = new ChildReconciler(random, config.hfDownloaderImage(),
                new ExpertPoolRestart(config.expertsRestartTogether(), clock));
        this.clock = clock;
    }

    @Override
    public List<EventSource<?, MoEDeployment>> prepareEventSources(EventSourceContext<MoEDeployment> context) {
        List<EventSource<?, MoEDeployment>> sources = new ArrayList<>();
        for (Class<? extends HasMetadata> type : List.of(ConfigMap.class, Secret.class, Service.class, StatefulSet.class,
                PodDisruptionBudget.class, HorizontalPodAutoscaler.class)) {
            sources.add(owned(type, context));
        }
        sources.add(new InformerEventSource<>(InformerEventSourceConfiguration.from(Pod.class, MoEDeployment.class)
                .withName("pods")
                .withLabelSelector(Names.managedSelector())
                .withSecondaryToPrimaryMapper(pod -> Set.of(new ResourceID(
                        pod.getMetadata().getLabels().get(Names.LABEL_DEPLOYMENT), pod.getMetadata().getNamespace())))
                .build(), context));
        return sources;
    }

    private static <R extends HasMetadata> InformerEventSource<R, MoEDeployment> owned(Class<R> type,
                                                                                      EventSourceContext<MoEDeployment> context) {
        return new InformerEventSource<>(InformerEventSourceConfiguration.from(type, MoEDeployment.class)
                .withName(type.getSimpleName().toLowerCase(java.util.Locale.ROOT))
                .withLabelSelector(Names.managedSelector())
                .withSecondaryToPrimaryMapper(Mappers.fromOwnerReferences(MoEDeployment.class))
                .build(), context);
    }

    @Override
    public UpdateControl<MoEDeployment> reconcile(MoEDeployment resource, Context<MoEDeployment> context) {
        String namespace = resource.getMetadata().getNamespace();
        ContextChildStore store = new ContextChildStore(context, namespace, config.serverSideApply());
        StatusAggregator.Outcome outcome = apply(resource, store);
        String name = resource.getMetadata().getName();
        StatusAggregator.Observed observed = new StatusAggregator.Observed(
                store.get(StatefulSet.class, Names.statefulSet(name, Role.ATTENTION)),
                store.get(StatefulSet.class, Names.statefulSet(name, Role.EXPERTS)),
                context.getSecondaryResources(Pod.class).stream().toList(),
                store.get(HorizontalPodAutoscaler.class, Names.autoscaler(name, Role.ATTENTION)),
                store.get(HorizontalPodAutoscaler.class, Names.autoscaler(name, Role.EXPERTS)));
        MoEDeploymentStatus status = StatusAggregator.status(resource, outcome, observed, clock.instant());
        boolean ready = "Ready".equals(status.phase());
        UpdateControl<MoEDeployment> control;
        if (status.equals(resource.getStatus())) {
            control = UpdateControl.noUpdate();
        } else {
            resource.setStatus(status);
            control = UpdateControl.patchStatus(resource);
        }
        return ready || outcome instanceof StatusAggregator.Outcome.Rejected ? control
                : control.rescheduleAfter(config.notReadyRecheck());
    }

    /** Resolves the topology and applies the children; a rejected spec changes nothing. */
    StatusAggregator.Outcome apply(MoEDeployment resource, ChildStore store) {
        try {
            Topology topology = topologies.resolve(resource.getSpec());
            ChildReconciler.Result result = children.reconcile(resource, topology, store);
            return new StatusAggregator.Outcome.Applied(result.topology(),
                    ServiceManifests.endpoint(resource, Ports.of(resource.getSpec())), result.scaling());
        } catch (InvalidSpecException e) {
            return new StatusAggregator.Outcome.Rejected(e.reason(), e.getMessage());
        }
    }
}
