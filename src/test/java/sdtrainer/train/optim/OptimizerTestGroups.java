package sdtrainer.train.optim;

import java.util.List;

/** Test groups with another learning rate. */
final class OptimizerTestGroups {
    private OptimizerTestGroups() {}

    static List<ParamGroup> withLr(List<ParamGroup> groups, double lr) {
        return groups.stream().map(g -> new ParamGroup(g.name(), g.params(), lr)).toList();
    }
}
