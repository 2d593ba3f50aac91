// What livekit-client tells about this browser and itself: the microphones, its version.

import { Room, version } from 'livekit-client';

export const CLIENT_VERSION = version;

/** List audio inputs without prompting for permission. */
export async function listMicrophones() {
  const devices = await Room.getLocalDevices('audioinput', false);
  return devices
    .filter((d) => d.deviceId)
    .map((d, i) => ({ id: d.deviceId, label: d.label || `Microphone ${i + 1}` }));
}
