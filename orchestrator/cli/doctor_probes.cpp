// Wires checks owned by later stages into `foliolab doctor`.
#include "cli/commands.h"

namespace foliolab::cli {

void register_doctor_probes(std::vector<doctor::ExtraCheck>& checks) {
  (void)checks;  // the vm stage's KVM probe is registered here once it lands
}

}  // namespace foliolab::cli
