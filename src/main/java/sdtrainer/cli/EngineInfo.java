package sdtrainer.cli;

import ai.djl.Device;
import java.nio.file.Path;

/**
 * The engine a run uses, as logged at start-up.
 *
 * @param version PyTorch version of the loaded natives
 * @param flavor native build, e.g. {@code cpu} or {@code cu128}
 * @param libraryPath directory the natives were loaded from
 * @param device where tensors of the run live
 * @param intraOpThreads threads one operator may use
 * @param interOpThreads threads for independent operators
 */
public record EngineInfo(String version, String flavor, Path libraryPath, Device device,
                         int intraOpThreads, int interOpThreads) {

    @Override
    public String toString() {
        return "engine PyTorch " + version + " (flavor " + flavor + ", " + libraryPath + "), device " + device
                + ", threads intra=" + intraOpThreads + " inter=" + interOpThreads;
    }
}
