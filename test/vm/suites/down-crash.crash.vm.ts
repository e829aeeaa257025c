// A CRASH suite (*.crash.vm.ts, see test/vm/run-suites.ts): it kills its own throwaway VM, and the
// host decides the outcome from the serial console.
//
// Why ControlDevice.notifyNodeDown refuses by default on this kernel (E_CONTROL_FORTIFY,
// docs/kernel-interfaces.md#down-hazard): a well-formed DOWN on /dev/ocfs2_control makes Debian's
// 6.1 kernel (CONFIG_FORTIFY_SOURCE=y) BUG in ocfs2_control_write. Here, in legacy WITH_CONTROLD
// mode with a user-stack volume mounted (a live connection, the situation DOWN exists for), the
// guest prints the marker line and then writes DOWN for another node with {kernelFixed: true}. The
// writer hangs in the dead kernel; the host sees the expected lines after the marker and kills the
// VM. If the write returns instead, the guest unmounts, closes the handle and fails the test, and
// the host fails the suite: the kernel no longer crashes, and the guard could be relaxed for it.
//
// @crash-marker o2stack-crash: writing a well-formed DOWN to /dev/ocfs2_control now
// @crash-expect detected buffer overflow in __fortify_strlen
// @crash-expect kernel BUG at
// @crash-expect ocfs2_control_write
// @crash-absent this kernel no longer crashes on a well-formed DOWN: the E_CONTROL_FORTIFY guard of ControlDevice.notifyNodeDown could be relaxed for it (downHazard)
import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync } from 'node:fs';
import { openControl, type ControlDevice } from '../../../lib/kernel/control.js';
import { nativeSystem } from '../../../lib/kernel/system.js';
import { UeventListener } from '../../../lib/kernel/uevent.js';
import { DlmEventLog, NODE, configureDlm, mkfsUserStack, mountLine, within } from '../support/dlm.js';
import { realBackend, requireTestVm } from '../support/kernel.js';

const DISK = '/dev/vda';
const MNT = '/mnt/down';
const MARKER = 'o2stack-crash: writing a well-formed DOWN to /dev/ocfs2_control now';

describe('a well-formed DOWN on /dev/ocfs2_control (Debian 6.1, FORTIFY_SOURCE)', function () {
  let listener: UeventListener | undefined;

  after(function () {
    listener?.close();
  });

  it('crashes the kernel in ocfs2_control_write (the host checks the console)', async function () {
    requireTestVm();
    if (!existsSync(DISK)) throw new Error(`${DISK} is missing`);
    const k = realBackend();
    const uuid = mkfsUserStack(DISK);
    mkdirSync(MNT, { recursive: true });
    configureDlm(k, 0);
    listener = new UeventListener({ kernel: true });
    const log = new DlmEventLog(listener, k);
    log.auto = true;
    const ctl: ControlDevice = openControl({ node: NODE });
    await within(nativeSystem.mount(DISK, MNT, 'ocfs2', 'cluster_stack=pcmk'), 60_000, 'legacy mount');
    assert.ok(mountLine(MNT), 'not mounted');
    // the guard is what stands between a caller and the crash
    assert.throws(() => ctl.notifyNodeDown(uuid, NODE + 1), { code: 'E_CONTROL_FORTIFY' });

    process.stdout.write(`\n${MARKER}\n`);
    let returned = false;
    let error: unknown;
    try {
      ctl.notifyNodeDown(uuid, NODE + 1, { kernelFixed: true });
      returned = true;
    } catch (e) {
      error = e;
    }
    // reached only if the kernel survived the write: clean up without rebooting the VM
    // (close a VALID handle only after the umount)
    await within(nativeSystem.umount(MNT), 60_000, 'umount').catch(() => undefined);
    if (!mountLine(MNT)) ctl.close();
    assert.fail(
      returned
        ? 'the DOWN write returned and the kernel is alive: this kernel no longer crashes on a well-formed DOWN; the E_CONTROL_FORTIFY guard could be relaxed for it'
        : `the DOWN write failed instead of crashing the kernel: ${String(error)}`,
    );
  });
});
