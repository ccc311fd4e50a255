package sdtrainer;

import sdtrainer.cli.TrainCommand;

/** Entry point of {@code java -jar sd-trainer.jar}. */
public final class Main {

    private Main() {
    }

    public static void main(String[] args) {
        System.exit(TrainCommand.newCommandLine().execute(args));
    }
}
