package sdtrainer.cli;

/**
 * A usage or input error found before or while reading the inputs (model, dataset, adapter file, output lock):
 * the command prints its message as one line and exits with 2, where a failure during the run exits with 1.
 */
final class InputException extends Exception {
    private static final long serialVersionUID = 1L;

    InputException(String message) {
        super(message);
    }

    InputException(String message, Throwable cause) {
        super(message, cause);
    }
}
