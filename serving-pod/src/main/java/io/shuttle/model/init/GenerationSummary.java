package io.shuttle.model.init;

import java.nio.file.Path;
import java.util.List;

/**
 * What {@link CheckpointGenerator} wrote.
 *
 * @param directory   the checkpoint folder
 * @param parameters  number of parameters (elements over all tensors)
 * @param tensorBytes bytes of tensor data
 * @param files       files written, in order
 */
public record GenerationSummary(Path directory, long parameters, long tensorBytes, List<Path> files) {

    public GenerationSummary {
        files = List.copyOf(files);
    }
}
