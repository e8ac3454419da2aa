package io.shuttle.serve;

import io.shuttle.engine.Engine;
import io.shuttle.engine.GenerationResult;
import io.shuttle.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The JSON document of {@code shuttle generate --json} (and of the attention pod's internal
 * generate endpoint): {@code {"engine":"shuttle","results":[{prompt_ids, generated_ids,
 * last_logits_top5, finish_reason, text}]}}; with {@code full}, each result also has
 * {@code last_logits} and {@code step_logits}.
 */
public final class GenerationJson {
    private GenerationJson() {
    }

    public static Map<String, Object> document(List<GenerationResult> results, Tokenizer tokenizer, boolean full) {
        List<Map<String, Object>> items = new ArrayList<>();
        for (GenerationResult r : results) {
            Map<String, Object> item = new LinkedHashMap<>();
            item.put("prompt_ids", r.promptIds());
            item.put("generated_ids", r.generatedIds());
            List<Object[]> top5 = new ArrayList<>();
            if (r.lastLogits() != null) {
                for (int id : Engine.topIndices(r.lastLogits(), 5)) {
                    top5.add(new Object[] {id, r.lastLogits()[id]});
                }
            }
            item.put("last_logits_top5", top5);
            item.put("finish_reason", r.finishReason() == null ? null : r.finishReason().openAiName());
            item.put("text", tokenizer.decode(r.generatedIds(), true));
            if (full) {
                item.put("last_logits", r.lastLogits());
                item.put("step_logits", r.stepLogits());
            }
            items.add(item);
        }
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("engine", "shuttle");
        doc.put("results", items);
        return doc;
    }
}
