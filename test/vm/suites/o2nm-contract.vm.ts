// The o2nm configfs contract on Debian's 6.1 kernel: the same assertions the simulator passes on
// the host (test/kernel/sim.test.ts), here through the native addon on real configfs.
import { NativeBackend } from '../../../lib/kernel/backend.js';
import { defineO2nmContract } from '../../contract/o2nm.contract.js';

defineO2nmContract('Debian 6.1 kernel', () => {
  const b = new NativeBackend({ root: '/' });
  if (b.fakeTree) throw new Error('/sys/kernel/config is not configfs: this suite must run in the VM (npm run test:vm)');
  return b;
});
