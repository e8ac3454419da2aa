package io.shuttle.tokenizer;

/** A tokenizer could not be loaded or used; the message names the file or input at fault and what to do. */
public final class TokenizerException extends RuntimeException {

    public TokenizerException(String message) {
        super(message);
    }

    public TokenizerException(String message, Throwable cause) {
        super(message, cause);
    }
}
