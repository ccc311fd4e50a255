package sdtrainer;
import ai.djl.engine.Engine;
import ai.djl.ndarray.*;
import ai.djl.ndarray.types.*;
public class Main { public static void main(String[] a) {
 System.setProperty("ai.djl.offline","true");
 Engine e = Engine.getEngine("PyTorch");
 System.out.println(e.getEngineName()+" "+e.getVersion()+" "+e.defaultDevice());
 try (NDManager m = NDManager.newBaseManager()) {
   NDArray x = m.randomNormal(new Shape(2,3));
   System.out.println(x.matMul(x.transpose()));
 }
} }
