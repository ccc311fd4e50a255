package sdtrainer.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The FLOP count follows the shapes, and training adds the backward's products in the right places. */
class FlopsTest {

    @Test
    void forwardProductsFromTheShapesAndTheBackwardsShareOnceSomethingTrains() {
        try (NDManager m = NDManager.newBaseManager()) {
            Conv2d conv = new Conv2d(3, 8, 3, 2, 1); // 16x16 -> 8x8
            Linear frozen = new Linear(8, 5, true);
            Linear trained = new Linear(5, 4, false);
            for (Module mod : new Module[] {conv, frozen, trained}) {
                mod.namedParameters().values().forEach(p -> p.set(m.randomNormal(p.shape())));
            }
            trained.setRequiresGrad(true);
            NDArray x = m.randomNormal(new Shape(2, 3, 16, 16));
            long convFlops = 2L * (2 * 8 * 8 * 8) * 3 * 3 * 3;
            long frozenFlops = 2L * (2 * 64 * 5) * 8, trainedFlops = 2L * (2 * 64 * 4) * 5;
            try (Flops count = Flops.count()) {
                NDArray h = frozen.forward(conv.forward(x).transpose(0, 2, 3, 1).reshape(2, 64, 8));
                trained.forward(h);
                assertEquals(convFlops + frozenFlops + 2 * trainedFlops, count.total(), "frozen ops upstream: forward only");
            }
            try (Flops count = Flops.count()) {
                NDArray h = trained.forward(m.randomNormal(new Shape(2, 64, 5)));
                frozen.forward(m.randomNormal(new Shape(2, 64, 8)));
                Ops.attention(h, h, h, 2, null);
                long attention = 4L * (2 * 64 * 4) * 64;
                assertEquals(2 * trainedFlops + 2 * frozenFlops + 3 * attention, count.total(),
                        "after a trained op: input gradients too");
            }
            long before;
            try (Flops count = Flops.count()) {
                before = count.total();
            }
            conv.forward(x);
            assertEquals(0, before, "nothing is counted outside a count");
        }
    }
}
