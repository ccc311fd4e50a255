package sdtrainer.diffusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import sdtrainer.nn.Scopes;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import java.util.Arrays;
import java.util.List;

/**
 * The training noise schedule: betas and alphas_cumprod exactly as diffusers computes them in float32, and the
 * forward process (add_noise) and v-prediction target built on them. Knows no model.
 */
public final class NoiseSchedule {

    private final SchedulerConfig config;
    private final boolean zeroTerminalSnr;
    private final float[] betas;
    private final float[] alphasCumprod;
    private final float[] sqrtAlphasCumprod;
    private final float[] sqrtOneMinusAlphasCumprod;

    public NoiseSchedule(SchedulerConfig config) {
        this(config, false);
    }

    /**
     * @param zeroTerminalSnr rescale the betas to zero terminal SNR (Lin et al. 2023) even when the config does
     *                        not ask for it (--zero_terminal_snr; kohya rescales its scheduler the same way)
     */
    public NoiseSchedule(SchedulerConfig config, boolean zeroTerminalSnr) {
        this.config = config;
        this.zeroTerminalSnr = zeroTerminalSnr || config.rescaleBetasZeroSnr();
        float[] b = baseBetas(config);
        if (this.zeroTerminalSnr) b = rescaleZeroTerminalSnr(b);
        this.betas = b;
        this.alphasCumprod = cumprodOfAlphas(b);
        this.sqrtAlphasCumprod = new float[b.length];
        this.sqrtOneMinusAlphasCumprod = new float[b.length];
        for (int i = 0; i < b.length; i++) {
            sqrtAlphasCumprod[i] = (float) Math.sqrt(alphasCumprod[i]);
            sqrtOneMinusAlphasCumprod[i] = (float) Math.sqrt(1f - alphasCumprod[i]);
        }
    }

    public SchedulerConfig config() { return config; }
    /** This schedule rescaled to zero terminal SNR (itself when it already is). */
    public NoiseSchedule withZeroTerminalSnr() { return zeroTerminalSnr ? this : new NoiseSchedule(config, true); }
    public boolean zeroTerminalSnr() { return zeroTerminalSnr; }
    public int numTrainTimesteps() { return config.numTrainTimesteps(); }
    public String predictionType() { return config.predictionType(); }
    public float[] betas() { return betas.clone(); }
    public float[] alphasCumprod() { return alphasCumprod.clone(); }

    /** alphas_cumprod[t] without copying the table. */
    public float alphaCumprod(int t) {
        if (t < 0 || t >= alphasCumprod.length) {
            throw new IllegalArgumentException("timestep " + t + " outside [0, " + alphasCumprod.length + ")");
        }
        return alphasCumprod[t];
    }

    /**
     * sqrt(acp[t]) * x0 + sqrt(1 - acp[t]) * noise, one t per sample of the batch [N, ...]. The result belongs to
     * x0's manager; timesteps (integer, [N]) stay on the device, so no host sync happens.
     */
    public NDArray addNoise(NDArray x0, NDArray noise, NDArray timesteps) {
        return Scopes.compute(() -> {
            NDArray[] c = coefficients(x0, timesteps);
            return c[0].mul(x0).addi(c[1].mul(noise));
        });
    }

    /** The v-prediction target sqrt(acp[t]) * noise - sqrt(1 - acp[t]) * x0; belongs to x0's manager. */
    public NDArray velocity(NDArray x0, NDArray noise, NDArray timesteps) {
        return Scopes.compute(() -> {
            NDArray[] c = coefficients(x0, timesteps);
            return c[0].mul(noise).subi(c[1].mul(x0));
        });
    }

    /**
     * {sqrt(acp[t]), sqrt(1 - acp[t])} shaped [N, 1, ..., 1] on x0's manager. For float32 the square roots come
     * from host tables: libtorch's CPU sqrt (MKL VML) is off by one ulp in places, Java's is correctly rounded as
     * the reference's was. Other dtypes follow diffusers: cast the table to x0's dtype, then take roots on device.
     */
    private NDArray[] coefficients(NDArray x0, NDArray timesteps) {
        NDManager m = x0.getManager();
        if (timesteps.getShape().dimension() != 1 || timesteps.size() != x0.getShape().get(0)) {
            throw new IllegalArgumentException("timesteps " + timesteps.getShape() + " must be [N] for a batch "
                    + x0.getShape());
        }
        if (!timesteps.getDataType().isInteger()) {
            throw new IllegalArgumentException("timesteps must be integers, got " + timesteps.getDataType());
        }
        NDArray index = timesteps.toType(DataType.INT64, false).toDevice(x0.getDevice(), false);
        long[] dims = new long[x0.getShape().dimension()];
        Arrays.fill(dims, 1);
        dims[0] = -1;
        Shape shape = new Shape(dims);
        if (x0.getDataType() == DataType.FLOAT32) {
            return new NDArray[] {m.create(sqrtAlphasCumprod).take(m, index).reshape(shape),
                    m.create(sqrtOneMinusAlphasCumprod).take(m, index).reshape(shape)};
        }
        NDArray acp = m.create(alphasCumprod).toType(x0.getDataType(), false).take(m, index).reshape(shape);
        return new NDArray[] {acp.sqrt(), acp.neg().addi(1f).sqrt()};
    }

    private static float[] baseBetas(SchedulerConfig c) {
        int n = c.numTrainTimesteps();
        List<Double> trained = c.trainedBetas();
        if (trained != null) {
            float[] b = new float[n];
            for (int i = 0; i < n; i++) b[i] = trained.get(i).floatValue();
            return b;
        }
        switch (c.betaSchedule()) {
            case "linear":
                return torchLinspace((float) c.betaStart(), (float) c.betaEnd(), n);
            case "scaled_linear": {
                float[] b = torchLinspace((float) Math.sqrt(c.betaStart()), (float) Math.sqrt(c.betaEnd()), n);
                for (int i = 0; i < n; i++) b[i] = b[i] * b[i];
                return b;
            }
            case "squaredcos_cap_v2":
                return glideCosineBetas(n);
            default:
                throw new IllegalArgumentException("beta_schedule '" + c.betaSchedule() + "' is not supported");
        }
    }

    /**
     * torch.linspace(start, end, n, dtype=float32) as the reference's torch 1.13 CPU kernel produced it: the first
     * half counts up from start, the second half down from end; chunks of 8 lanes (AVX2) share one base computed
     * with a fused multiply-add, each lane adds j*step to it; the last n mod 16 values take the scalar path. This
     * reproduces the fixture's betas bit for bit; a plain start + i*step differs by one ulp in about a quarter of the places.
     */
    static float[] torchLinspace(float start, float end, int n) {
        float[] out = new float[n];
        if (n == 1) {
            out[0] = start;
            return out;
        }
        float step = (end - start) / (n - 1);
        int halfway = n / 2;
        int lanes = 8;
        int vectorEnd = n / (2 * lanes) * (2 * lanes);
        int i = 0;
        for (; i < vectorEnd; i += lanes) {
            float base = linspaceValue(start, end, step, i, n, halfway);
            for (int j = 0; j < lanes; j++) out[i + j] = Math.fma((float) j, step, base);
        }
        for (; i < n; i++) out[i] = linspaceValue(start, end, step, i, n, halfway);
        return out;
    }

    private static float linspaceValue(float start, float end, float step, int i, int n, int halfway) {
        return i < halfway ? Math.fma(step, (float) i, start) : Math.fma(-step, (float) (n - 1 - i), end);
    }

    /** diffusers' betas_for_alpha_bar with the cosine alpha_bar: computed in double, stored as float32. */
    private static float[] glideCosineBetas(int n) {
        float[] b = new float[n];
        for (int i = 0; i < n; i++) {
            double t1 = (double) i / n, t2 = (double) (i + 1) / n;
            b[i] = (float) Math.min(1 - glideAlphaBar(t2) / glideAlphaBar(t1), 0.999);
        }
        return b;
    }

    private static double glideAlphaBar(double t) {
        double c = Math.cos((t + 0.008) / 1.008 * Math.PI / 2);
        return c * c;
    }

    /** torch.cumprod(1 - betas) on CPU: float32 in and out, but the running product is kept in double. */
    private static float[] cumprodOfAlphas(float[] betas) {
        float[] acp = new float[betas.length];
        double running = 1.0;
        for (int i = 0; i < betas.length; i++) {
            running *= (1f - betas[i]);
            acp[i] = (float) running;
        }
        return acp;
    }

    /** diffusers' rescale_zero_terminal_snr (Lin et al. 2023, algorithm 1), step by step in float32. */
    private static float[] rescaleZeroTerminalSnr(float[] betas) {
        int n = betas.length;
        float[] acp = cumprodOfAlphas(betas);
        float[] sqrtAcp = new float[n];
        for (int i = 0; i < n; i++) sqrtAcp[i] = (float) Math.sqrt(acp[i]);
        float first = sqrtAcp[0], last = sqrtAcp[n - 1];
        float scale = first / (first - last);
        float[] alphaBar = new float[n];
        for (int i = 0; i < n; i++) {
            float s = (sqrtAcp[i] - last) * scale;
            alphaBar[i] = s * s;
        }
        float[] out = new float[n];
        out[0] = 1f - alphaBar[0];
        for (int i = 1; i < n; i++) out[i] = 1f - alphaBar[i] / alphaBar[i - 1];
        return out;
    }
}
