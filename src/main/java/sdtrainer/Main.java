package sdtrainer;

import java.util.Optional;

import sdtrainer.cli.TrainCommand;

/** Entry point of {@code java -jar sd-trainer.jar}. */
public final class Main {

    private Main() {
    }

    public static void main(String[] args) {
        Optional<Integer> relaunched = AllocatorLaunch.relaunch(args);
        System.exit(relaunched.orElseGet(() -> TrainCommand.newCommandLine().execute(args)));
    }
}
