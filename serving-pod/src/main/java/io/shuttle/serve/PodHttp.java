package io.shuttle.serve;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Supplier;

/**
 * A pod's small internal HTTP endpoint: {@code GET /health} on every pod and, on attention
 * pods, {@code POST /v1/shuttle/generate}. (The OpenAI-compatible API and metrics are served by
 * the serving API layer; this endpoint is what {@code shuttle local} and the tests drive.)
 */
public final class PodHttp implements AutoCloseable {
    static final ObjectMapper JSON = new ObjectMapper();

    private final HttpServer server;
    private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();

    /** A handler's answer: status and a JSON-serialisable body. */
    public record Reply(int status, Object body) {
    }

    /** Handles a request body (empty for GET). */
    public interface Handler {
        Reply handle(byte[] body) throws Exception;
    }

    public PodHttp(String host, int port) throws IOException {
        server = HttpServer.create(new InetSocketAddress(host, port), 64);
        server.setExecutor(executor);
    }

    /** {@code GET /health}: 200 while {@code ready} says so, else 503, with {@code details} as the body. */
    public PodHttp health(Supplier<Boolean> ready, Supplier<Map<String, Object>> details) {
        server.createContext("/health", ex -> {
            if (!"GET".equals(ex.getRequestMethod())) {
                send(ex, new Reply(405, error("use GET")));
                return;
            }
            send(ex, new Reply(ready.get() ? 200 : 503, details.get()));
        });
        return this;
    }

    /** {@code GET path}: 200 with {@code body}. */
    public PodHttp get(String path, Supplier<Object> body) {
        server.createContext(path, ex -> send(ex, "GET".equals(ex.getRequestMethod())
                ? new Reply(200, body.get()) : new Reply(405, error("use GET"))));
        return this;
    }

    public PodHttp post(String path, Handler handler) {
        server.createContext(path, new HttpHandler() {
            @Override
            public void handle(HttpExchange ex) throws IOException {
                if (!"POST".equals(ex.getRequestMethod())) {
                    send(ex, new Reply(405, error("use POST")));
                    return;
                }
                Reply reply;
                try {
                    reply = handler.handle(ex.getRequestBody().readAllBytes());
                } catch (IllegalArgumentException e) {
                    reply = new Reply(400, error(e.getMessage()));
                } catch (Exception e) {
                    reply = new Reply(500, error(e.toString()));
                }
                send(ex, reply);
            }
        });
        return this;
    }

    public PodHttp start() {
        server.start();
        return this;
    }

    public int port() {
        return server.getAddress().getPort();
    }

    static Map<String, Object> error(String message) {
        return Map.of("error", Map.of("message", message == null ? "unknown error" : message));
    }

    private static void send(HttpExchange ex, Reply reply) throws IOException {
        byte[] bytes = JSON.writeValueAsString(reply.body()).getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(reply.status(), bytes.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(bytes);
        }
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }
}
