// Reading volumes for the stack code (mount, hb-ctl, status) from real devices.
import { inspectVolume } from '../kernel/blockdev.js';
import { HeartbeatFileError } from '../model/heartbeatFile.js';
import type { VolumeReader } from './mount.js';

export const readVolumeFromDisk: VolumeReader = async (device, { heartbeat }) => {
  const v = inspectVolume(device);
  if (heartbeat && !v.heartbeat) {
    const e = v.heartbeatError!;
    throw new HeartbeatFileError(e.code as ConstructorParameters<typeof HeartbeatFileError>[0], `${device}: ${e.message}`, e.hint);
  }
  return { superblock: v.superblock, ...(v.heartbeat ? { heartbeat: v.heartbeat } : {}) };
};
