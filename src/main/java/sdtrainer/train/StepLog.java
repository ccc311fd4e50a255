package sdtrainer.train;

import sdtrainer.log.ConsoleProgress;
import sdtrainer.log.MemoryStats;
import sdtrainer.log.MetricsLog;
import sdtrainer.log.TensorBoardWriter;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Where each step's figures go: one record, written as a metrics.jsonl row, as TensorBoard scalars and as the
 * console's progress line. A step whose loss is not finite stops the run before anything is saved.
 */
final class StepLog implements AutoCloseable {

    /** One step's figures; {@code weightMeans} and {@code gradNorm} are absent (null / NaN) when not measured. */
    record Row(long step, int epoch, float loss, double lossEma, Map<String, Double> lr, double samplesPerSecond,
               double gradNorm, long liveTensors, Map<String, Double> weightMeans) {

        Map<String, Object> json() {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("step", step);
            row.put("epoch", epoch);
            row.put("loss", loss);
            row.put("loss_ema", lossEma);
            row.put("lr", lr);
            row.put("samples_per_second", samplesPerSecond);
            if (!Double.isNaN(gradNorm)) row.put("grad_norm", gradNorm);
            row.put("rss_mb", MemoryStats.rssMb());
            // tensors alive in the model's manager: flat from step to step unless something leaks
            row.put("live_tensors", liveTensors);
            if (weightMeans != null) row.put("weight_means", weightMeans);
            return row;
        }

        Map<String, Number> scalars() {
            Map<String, Number> s = new LinkedHashMap<>();
            s.put("loss", loss);
            s.put("loss_ema", lossEma);
            s.put("samples_per_second", samplesPerSecond);
            if (!Double.isNaN(gradNorm)) s.put("grad_norm", gradNorm);
            lr.forEach((g, v) -> s.put("lr/" + g, v));
            if (weightMeans != null) weightMeans.forEach((g, v) -> s.put("weights/" + g, v));
            return s;
        }
    }

    private final MetricsLog metrics;
    private final TensorBoardWriter tb;
    private final ConsoleProgress progress;

    StepLog(Path metricsFile, Path logDir, PrintStream console, boolean terminal, long totalSteps) throws IOException {
        this.metrics = new MetricsLog(metricsFile);
        this.tb = new TensorBoardWriter(logDir);
        this.progress = new ConsoleProgress(console, terminal, totalSteps);
    }

    /** Refuses a non-finite loss: this step's update has already spoiled the weights, so nothing may be saved. */
    static void checkFinite(float loss, long step, int epoch, StepBatch batch) throws IOException {
        if (Float.isFinite(loss)) return;
        throw new IOException("the loss became " + loss + " at step " + step + " (epoch " + epoch
                + "); nothing was saved from this point. Lower --lr or check the data of this batch: "
                + batch.samples().stream().map(s -> s.stem()).toList());
    }

    void record(Row row) throws IOException {
        metrics.append(row.json());
        tb.addScalars(row.scalars(), row.step());
        double lastLr = row.lr().values().stream().reduce((a, b) -> b).orElse(0.0);
        progress.update(row.step(), row.lossEma(), row.samplesPerSecond(), lastLr);
    }

    /** A validation loss: its own metrics.jsonl row ({@code val_loss}), TensorBoard scalar and console line. */
    void validation(long step, int epoch, double loss, int samples) throws IOException {
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("step", step);
        row.put("epoch", epoch);
        row.put("val_loss", loss);
        row.put("val_samples", samples);
        metrics.append(row);
        tb.addScalars(Map.of("val_loss", loss), step);
        progress.println(String.format(java.util.Locale.ROOT, "validation at step %d: loss %.4f on %d held-out sample(s)",
                step, loss, samples));
    }

    void println(String line) {
        progress.println(line);
    }

    TensorBoardWriter tensorBoard() {
        return tb;
    }

    @Override
    public void close() throws IOException {
        try (metrics) {
            tb.close();
        }
    }
}
