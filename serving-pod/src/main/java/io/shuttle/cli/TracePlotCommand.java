package io.shuttle.cli;

import com.fasterxml.jackson.databind.JsonNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import javax.imageio.ImageIO;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;

/**
 * {@code shuttle trace plot}: draws one step of a pipeline trace (from {@code --trace}) as a PNG
 * timeline, one lane per process and micro-batch, so the ping-pong and its bubbles can be seen
 * without a trace viewer.
 */
@Command(name = "plot", mixinStandardHelpOptions = true,
        description = "Render one step of a Chrome/Perfetto pipeline trace as a PNG timeline.")
final class TracePlotCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--in", required = true, description = "Trace file written by --trace.")
    Path in;

    @Option(names = "--out", required = true, description = "PNG to write.")
    Path out;

    @Option(names = "--step", defaultValue = "-1", description = "Step to draw (default: the middle step of the trace).")
    long step;

    private static final Map<String, Color> COLORS = Map.of(
            "attention", new Color(0x4C72B0), "dispatch", new Color(0xDD8452), "wait", new Color(0xCCCCCC),
            "expert compute", new Color(0x55A868), "combine", new Color(0xC44E52), "wait attention", new Color(0xE5E5E5),
            "lm_head", new Color(0x8172B3), "sample", new Color(0xDA8BC3), "schedule", new Color(0x937860),
            "inputs", new Color(0xCCB974));

    record Event(String process, int lane, String cat, double start, double dur, String label, boolean otherStep) {
    }

    @Override
    public Integer call() throws Exception {
        JsonNode events = TraceStatsCommand.readTrace(in);
        Map<Integer, String> names = new TreeMap<>();
        List<JsonNode> spans = new ArrayList<>();
        for (JsonNode e : events) {
            if ("M".equals(e.path("ph").asText())) {
                names.put(e.get("pid").asInt(), e.path("args").path("name").asText());
            } else if ("X".equals(e.path("ph").asText())) {
                spans.add(e);
            }
        }
        if (spans.isEmpty()) {
            throw new IllegalArgumentException(in + " has no timed events; record one with --trace");
        }
        long chosen = step >= 0 ? step : spans.stream().mapToLong(e -> e.path("args").path("step").asLong())
                .sorted().skip(spans.size() / 2).findFirst().orElse(0);
        List<Event> picked = new ArrayList<>();
        Map<String, Integer> lanes = new LinkedHashMap<>();
        double t0 = Double.MAX_VALUE;
        double t1 = 0;
        for (JsonNode e : spans) {
            if (e.path("args").path("step").asLong() != chosen) {
                continue;
            }
            String proc = names.getOrDefault(e.get("pid").asInt(), "pid " + e.get("pid").asInt());
            int mb = e.path("args").path("micro_batch").asInt();
            String lane = proc + "  mb " + mb;
            lanes.putIfAbsent(lane, lanes.size());
            double s = e.get("ts").asDouble();
            double d = e.get("dur").asDouble();
            t0 = Math.min(t0, s);
            t1 = Math.max(t1, s + d);
            picked.add(new Event(proc, lanes.get(lane), e.path("cat").asText(), s, d, e.path("name").asText(), false));
        }
        if (picked.isEmpty()) {
            throw new IllegalArgumentException("step " + chosen + " is not in " + in);
        }
        // Micro-batches run across step boundaries: the neighbouring steps' phases inside this
        // step's window are drawn too, paler, so the overlap (and what is left idle) shows.
        for (JsonNode e : spans) {
            long st = e.path("args").path("step").asLong();
            double s = e.get("ts").asDouble();
            double d = e.get("dur").asDouble();
            if (st == chosen || s + d <= t0 || s >= t1) {
                continue;
            }
            String proc = names.getOrDefault(e.get("pid").asInt(), "pid " + e.get("pid").asInt());
            String lane = proc + "  mb " + e.path("args").path("micro_batch").asInt();
            if (!lanes.containsKey(lane)) {
                continue;
            }
            double from = Math.max(s, t0);
            double to = Math.min(s + d, t1);
            picked.add(new Event(proc, lanes.get(lane), e.path("cat").asText(), from, to - from, e.path("name").asText(), true));
        }
        draw(picked, new ArrayList<>(lanes.keySet()), t0, t1, chosen);
        spec.commandLine().getOut().printf("wrote %s: step %d, %.2f ms, %d lanes%n", out, chosen, (t1 - t0) / 1e3, lanes.size());
        return 0;
    }

    private void draw(List<Event> events, List<String> lanes, double t0, double t1, long chosen) throws Exception {
        int left = 190;
        int width = 1400;
        int laneH = 26;
        int top = 40;
        int height = top + lanes.size() * laneH + 60;
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, width, height);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        g.setColor(Color.BLACK);
        g.drawString(String.format("step %d: %.2f ms (paler: the steps before and after, inside this window)", chosen,
                (t1 - t0) / 1e3), 10, 20);
        double scale = (width - left - 20) / Math.max(1, t1 - t0);
        for (int i = 0; i < lanes.size(); i++) {
            g.setColor(Color.BLACK);
            g.drawString(lanes.get(i), 8, top + i * laneH + 17);
        }
        for (Event e : events) {
            int x = left + (int) ((e.start() - t0) * scale);
            int w = Math.max(1, (int) (e.dur() * scale));
            int y = top + e.lane() * laneH + 3;
            Color c = COLORS.getOrDefault(e.cat(), Color.GRAY);
            g.setColor(e.otherStep() ? new Color((c.getRed() + 2 * 255) / 3, (c.getGreen() + 2 * 255) / 3,
                    (c.getBlue() + 2 * 255) / 3) : c);
            g.fillRect(x, y, w, laneH - 6);
            g.setColor(Color.DARK_GRAY);
            g.setStroke(new BasicStroke(0.5f));
            g.drawRect(x, y, w, laneH - 6);
        }
        int lx = left;
        for (var entry : COLORS.entrySet()) {
            g.setColor(entry.getValue());
            g.fillRect(lx, height - 30, 14, 14);
            g.setColor(Color.BLACK);
            g.drawString(entry.getKey(), lx + 18, height - 19);
            lx += 128;
        }
        g.dispose();
        ImageIO.write(img, "png", out.toFile());
    }
}
