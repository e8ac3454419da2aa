package io.shuttle.tokenizer;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * Renders a Hugging Face chat template (Jinja) into the prompt text the model was trained on, as
 * {@code transformers}' {@code apply_chat_template(tokenize=False)} does. The template sees
 * {@code messages} (maps with {@code role} and {@code content}), {@code bos_token},
 * {@code eos_token}, {@code add_generation_prompt} and the function {@code raise_exception}.
 *
 * <p>Templates such as Mixtral's write {@code bos_token} themselves, so encode the rendered text
 * with {@code addSpecialTokens = false}, or BOS appears twice.
 */
public final class ChatTemplate {

    /** One chat message; role is "system", "user" or "assistant" (the template decides which it accepts). */
    public record Message(String role, String content) {
        public Message {
            Objects.requireNonNull(role, "role");
            Objects.requireNonNull(content, "content");
        }
    }

    private final String template;
    private final String bosToken;
    private final String eosToken;
    private final Jinjava jinjava;

    /**
     * @param template the Jinja source
     * @param bosToken the text of the BOS token ("" when the tokenizer has none)
     * @param eosToken the text of the EOS token ("" when the tokenizer has none)
     */
    public ChatTemplate(String template, String bosToken, String eosToken) {
        this.template = Objects.requireNonNull(template, "template");
        this.bosToken = Objects.requireNonNull(bosToken, "bosToken");
        this.eosToken = Objects.requireNonNull(eosToken, "eosToken");
        // transformers renders chat templates with jinja2 (trim_blocks=True, lstrip_blocks=True); Jinjava
        // needs its Jinja2-compatibility switches (whitespace control, operator precedence) to match.
        // Nested interpretation must stay off: Jinjava would otherwise render "{{ ... }}" found inside
        // message content, letting a user's text run template code (Jinja2 never does that).
        this.jinjava = new Jinjava(JinjavaConfig.newBuilder()
                .withNestedInterpretationEnabled(false)
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                .withLegacyOverrides(LegacyOverrides.newBuilder()
                        .withParseWhitespaceControlStrictly(true)
                        .withUseTrimmingForNotesAndExpressions(true)
                        .withUseNaturalOperatorPrecedence(true)
                        .withIterateOverMapKeys(true)
                        .withEvaluateMapKeys(true)
                        .withUsePyishObjectMapper(true)
                        .withKeepNullableLoopValues(true)
                        .build())
                .build());
        jinjava.getGlobalContext().registerFunction(new ELFunctionDefinition(
                "", "raise_exception", TemplateFunctions.class, "raiseException", String.class));
    }

    /** The chat template of a model directory's tokenizer_config.json, if it has one. */
    public static Optional<ChatTemplate> load(Path modelDir) {
        TokenizerConfig config = TokenizerConfig.read(modelDir);
        return config.chatTemplate().map(t -> new ChatTemplate(t, config.bosToken().orElse(""), config.eosToken().orElse("")));
    }

    /**
     * Renders the conversation.
     *
     * @param addGenerationPrompt whether to end with the marker that starts the assistant's turn
     *                            (Mixtral's template ends every user turn with it anyway)
     * @throws IllegalArgumentException when the template rejects the conversation (for example
     *                                  roles that do not alternate) or fails to render
     */
    public String render(List<Message> messages, boolean addGenerationPrompt) {
        if (messages.isEmpty()) {
            throw new IllegalArgumentException("a chat needs at least one message");
        }
        Map<String, Object> bindings = new HashMap<>();
        bindings.put("messages", messages.stream()
                .map(m -> Map.of("role", m.role(), "content", m.content()))
                .collect(Collectors.toList()));
        bindings.put("bos_token", bosToken);
        bindings.put("eos_token", eosToken);
        bindings.put("add_generation_prompt", addGenerationPrompt);
        RenderResult result = jinjava.renderForResult(template, bindings);
        List<TemplateError> fatal = result.getErrors().stream()
                .filter(e -> e.getSeverity() == TemplateError.ErrorType.FATAL)
                .toList();
        if (!fatal.isEmpty()) {
            // Jinja stops at the first raise_exception; Jinjava records it and renders on, so report the first.
            throw new IllegalArgumentException("chat template rejected the conversation: " + describe(fatal.get(0)));
        }
        return result.getOutput();
    }

    /** Jinjava wraps the message of an exception thrown by raise_exception; show the innermost one. */
    private static String describe(TemplateError e) {
        Throwable t = e.getException();
        while (t != null && t.getCause() != null) {
            t = t.getCause();
        }
        return t instanceof TemplateException te ? te.getMessage() : e.getMessage();
    }

    /** Thrown by the template's raise_exception(message). */
    static final class TemplateException extends RuntimeException {
        TemplateException(String message) {
            super(message);
        }
    }

    /** Functions exposed to templates; public because Jinjava calls them reflectively. */
    public static final class TemplateFunctions {
        private TemplateFunctions() {
        }

        public static String raiseException(String message) {
            throw new TemplateException(message);
        }
    }
}
