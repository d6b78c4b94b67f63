// nxt_predict: classifies image files with a trained checkpoint.
// The program name is fixed by the design; its implementation lands with the nxt_predict and
// nxt_eval issue, and until then it says so and fails.
#include <iostream>

int main() {
  std::cerr
      << "nxt_predict: not implemented in this build yet (see the nxt_predict/nxt_eval issue)\n";
  return 2;
}
