package sdtrainer.log;

import ai.djl.pytorch.jni.JniUtils;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.ArrayDeque;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * libtorch's own operator profiler over some steps (DJL starts and stops it; it writes a Chrome trace), summed
 * per operator: calls, total time and self time (total less the operators it called). Top-level operators are
 * those no other operator called: the calls the host made into libtorch, plus the autograd engine's.
 */
public record OpProfile(List<Op> ops, long topLevelCalls, int steps) {

    /** One operator's figures over all profiled steps. */
    public record Op(String name, long calls, double selfMs, double totalMs) {}

    /** Starts recording every operator of this process (shapes off: they cost time and memory). */
    public static void start() {
        JniUtils.startProfile(false, false, false);
    }

    /** Stops recording and sums what {@code steps} steps ran; {@code trace} is the scratch file torch writes. */
    public static OpProfile stop(Path trace, int steps) throws IOException {
        JniUtils.stopProfile(trace.toString());
        try {
            return of(new ObjectMapper().readTree(trace.toFile()), steps);
        } finally {
            Files.deleteIfExists(trace);
        }
    }

    /** The figures of a Chrome trace's complete ("X") events; nesting is read from the times, per thread. */
    static OpProfile of(JsonNode trace, int steps) {
        record Event(String name, String thread, double start, double dur) {}
        List<Event> events = new ArrayList<>();
        for (JsonNode e : trace) {
            if (!"X".equals(e.path("ph").asText())) continue;
            events.add(new Event(e.path("name").asText(), e.path("pid").asText() + "/" + e.path("tid").asText(),
                    e.path("ts").asDouble(), e.path("dur").asDouble()));
        }
        events.sort(Comparator.comparing(Event::thread).thenComparingDouble(Event::start)
                .thenComparing(Comparator.comparingDouble(Event::dur).reversed()));
        Map<String, double[]> sums = new HashMap<>(); // calls, self us, total us
        Deque<Event> open = new ArrayDeque<>();
        Map<Event, Double> childTime = new IdentityHashMap<>(); // equal records may be distinct events
        long topLevel = 0;
        String thread = null;
        for (Event e : events) {
            if (!e.thread().equals(thread)) {
                open.clear();
                thread = e.thread();
            }
            while (!open.isEmpty() && open.peek().start() + open.peek().dur() <= e.start()) open.pop();
            if (open.isEmpty()) topLevel++;
            else childTime.merge(open.peek(), e.dur(), Double::sum);
            open.push(e);
        }
        for (Event e : events) {
            double[] s = sums.computeIfAbsent(e.name(), k -> new double[3]);
            s[0]++;
            s[1] += e.dur() - childTime.getOrDefault(e, 0.0);
            s[2] += e.dur();
        }
        List<Op> ops = new ArrayList<>();
        sums.forEach((name, s) -> ops.add(new Op(name, (long) s[0], s[1] / 1000, s[2] / 1000)));
        ops.sort(Comparator.comparingDouble(Op::selfMs).reversed());
        return new OpProfile(List.copyOf(ops), topLevel, steps);
    }

    /** One operator's figures averaged over the profiled steps. */
    public record PerStep(String name, double calls, double selfMs, double totalMs) {}

    /** The {@code n} operators of most self time, their figures per profiled step. */
    public List<PerStep> topPerStep(int n) {
        return ops.stream().limit(n).map(o -> new PerStep(o.name(), (double) o.calls() / steps, o.selfMs() / steps,
                o.totalMs() / steps)).toList();
    }

    public long allCalls() {
        return ops.stream().mapToLong(Op::calls).sum();
    }
}
