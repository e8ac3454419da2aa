package io.shuttle.operator.desired;

/** The parsed {@code spec.model.source}. */
public sealed interface ModelSource {

    /** Random weights made in the pod by {@code shuttle model init --preset}. */
    record Builtin(String preset) implements ModelSource {
    }

    /** A Hugging Face folder at {@code path} inside PersistentVolumeClaim {@code claim}. */
    record Pvc(String claim, String path) implements ModelSource {
    }

    /** A Hugging Face Hub repository, downloaded by an init container. */
    record HuggingFace(String repository) implements ModelSource {
    }

    /** Parses {@code pvc://claim/path}, {@code hf://org/name} or {@code builtin://preset}. */
    static ModelSource parse(String source) {
        if (source == null) {
            throw new InvalidSpecException("InvalidModel", "spec.model.source is missing");
        }
        if (source.startsWith("builtin://")) {
            String preset = source.substring("builtin://".length());
            if (!preset.equals("tiny") && !preset.equals("small")) {
                throw new InvalidSpecException("InvalidModel", "unknown builtin model '" + preset + "'; use builtin://tiny or builtin://small");
            }
            return new Builtin(preset);
        }
        if (source.startsWith("pvc://")) {
            String rest = source.substring("pvc://".length());
            int slash = rest.indexOf('/');
            if (slash <= 0) {
                throw new InvalidSpecException("InvalidModel", "spec.model.source '" + source + "' must be pvc://CLAIM/PATH");
            }
            String path = rest.substring(slash + 1);
            if (path.contains("..")) {
                throw new InvalidSpecException("InvalidModel", "spec.model.source '" + source + "' must not contain '..'");
            }
            return new Pvc(rest.substring(0, slash), path);
        }
        if (source.startsWith("hf://")) {
            String repo = source.substring("hf://".length());
            if (!repo.matches("[A-Za-z0-9][-._A-Za-z0-9]*/[-._A-Za-z0-9]+")) {
                throw new InvalidSpecException("InvalidModel", "spec.model.source '" + source + "' must be hf://ORG/NAME");
            }
            return new HuggingFace(repo);
        }
        throw new InvalidSpecException("InvalidModel", "spec.model.source '" + source
                + "' must start with pvc://, hf:// or builtin://");
    }
}
