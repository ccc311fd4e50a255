package sdtrainer.config;

/** A config file that cannot be used; the message names the file, the line where known, and the defect. */
public final class ConfigException extends Exception {

    public ConfigException(String message) {
        super(message);
    }
}
