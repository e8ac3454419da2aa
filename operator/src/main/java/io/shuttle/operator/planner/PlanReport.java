package io.shuttle.operator.planner;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Locale;

/** Renders planner results: a table for people, one JSON object for tools. */
final class PlanReport {

    private PlanReport() {
    }

    /** The best plan in words, then the best {@code top} plans (one per hardware shape) in a table. */
    static String table(PlanRequest r, List<PlanEstimate> ranked, int top) {
        ModelShape m = r.model();
        PlanEstimate best = ranked.getFirst();
        DeploymentPlan p = best.plan();
        StringBuilder sb = new StringBuilder();
        sb.append(f("%s: %.0fB parameters, %d layers, %d experts, top-%d; TBT SLO %s ms; average sequence %s tokens%n",
                m.name(), m.totalParams() / 1e9, m.layers(), m.experts(), m.topK(), num(r.sloTbtMs()),
                num(r.avgSeqLen())));
        sb.append(f("Best plan: attention %s, experts %s, %d micro-batches, batch %d%n",
                role(p.attention()), role(p.experts()) + perPod(best), p.microBatches(), p.batch()));
        sb.append(f("  predicted TBT %.1f ms, %.0f tokens/s, cost %.2f per hour, %.1f tokens/s per unit of hourly cost%n",
                p.tbtMs(), p.tokensPerS(), p.costPerHour(), p.tokensPerSPerCost()));
        sb.append(f("  per layer and micro-batch: T_a %.3f ms, T_e %.3f ms, T_c %.3f ms (T_c/T_f %.2f)%n",
                best.attentionLayerMs(), best.expertLayerMs(), best.transferMs(), best.transferRatio()));
        sb.append(f("  memory: attention pod %.1f of %.1f GiB usable, expert pod %.1f GiB of weights%n",
                best.attentionPodGiB(), best.attentionPodCapacityGiB(), best.expertPodGiB()));
        Coefficients k = best.coefficients();
        sb.append(f("  model: k1 %.3f us/seq, k2 %.1f us, k3 %.3f us/token, k4 %.1f us%n%n",
                k.k1() * 1e6, k.k2() * 1e6, k.k3() * 1e6, k.k4() * 1e6));
        String row = "%-4s %-18s %-18s %2s %7s %8s %10s %9s %11s %7s %7s %7s%n";
        sb.append(f(row, "rank", "attention", "experts", "m", "batch", "TBT ms", "tokens/s", "cost/h", "tok/s/cost",
                "T_a ms", "T_e ms", "T_c ms"));
        for (int i = 0; i < Math.min(top, ranked.size()); i++) {
            PlanEstimate e = ranked.get(i);
            DeploymentPlan d = e.plan();
            sb.append(f(row, i + 1, cell(d.attention()), cell(d.experts()) + (e.expertsPerPod() == 1 ? "" : " e" + e.expertsPerPod()),
                    d.microBatches(), d.batch(), f("%.1f", d.tbtMs()), f("%.0f", d.tokensPerS()),
                    f("%.2f", d.costPerHour()), f("%.1f", d.tokensPerSPerCost()), f("%.3f", e.attentionLayerMs()),
                    f("%.3f", e.expertLayerMs()), f("%.3f", e.transferMs())));
        }
        sb.append(f("%d hardware shapes fit; costs in the catalog's price unit (built-in: L20 = 1.00 per GPU-hour)%n",
                ranked.size()));
        return sb.toString();
    }

    /** The best plan as one JSON object. */
    static ObjectNode json(PlanRequest r, PlanEstimate best) {
        JsonNodeFactory n = JsonNodeFactory.instance;
        DeploymentPlan p = best.plan();
        ObjectNode o = n.objectNode();
        o.put("model", r.model().name());
        o.set("attention", roleJson(p.attention()));
        ObjectNode experts = roleJson(p.experts());
        experts.put("experts_per_pod", best.expertsPerPod());
        o.set("experts", experts);
        o.put("micro_batches", p.microBatches());
        o.put("batch", p.batch());
        o.put("tbt_ms", p.tbtMs());
        o.put("tokens_per_s", p.tokensPerS());
        o.put("cost_per_hour", p.costPerHour());
        o.put("tokens_per_s_per_cost", p.tokensPerSPerCost());
        o.put("slo_tbt_ms", r.sloTbtMs());
        o.put("avg_seq_len", r.avgSeqLen());
        ObjectNode layer = o.putObject("per_layer_ms");
        layer.put("t_a", best.attentionLayerMs());
        layer.put("t_e", best.expertLayerMs());
        layer.put("t_c", best.transferMs());
        layer.put("head", best.headMs());
        ObjectNode mem = o.putObject("memory_gib");
        mem.put("attention_pod", best.attentionPodGiB());
        mem.put("attention_pod_usable", best.attentionPodCapacityGiB());
        mem.put("expert_pod", best.expertPodGiB());
        return o;
    }

    private static ObjectNode roleJson(RolePlan role) {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("gpu", role.gpu());
        o.put("tp", role.tp());
        o.put("pods", role.pods());
        return o;
    }

    private static String role(RolePlan r) {
        return f("%d pod%s × %d %s (tp %d)", r.pods(), r.pods() == 1 ? "" : "s", r.tp(), r.gpu(), r.tp());
    }

    private static String perPod(PlanEstimate e) {
        return e.expertsPerPod() == 1 ? "" : f(" holding %d experts each", e.expertsPerPod());
    }

    private static String cell(RolePlan r) {
        return f("%s tp%d ×%d", r.gpu(), r.tp(), r.pods());
    }

    private static String num(double v) {
        return v == Math.rint(v) ? String.valueOf((long) v) : String.valueOf(v);
    }

    private static String f(String format, Object... args) {
        return String.format(Locale.ROOT, format, args);
    }
}
