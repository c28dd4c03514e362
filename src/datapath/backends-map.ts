// Codecs for bpf/include/backends_map.h: backends by id, and the slots tying services to them.
import { be16, defineStruct, lbAddress, padding, u16, u32, u8 } from '../bpf/struct-layout.js';

export const BACKENDS_MAP = 'slb_backends';
export const SLOTS_MAP = 'slb_slots';

export interface BackendKey {
  backend_id: number;
}

export interface BackendValue {
  address: string;
  port: number;
}

export interface SlotKey {
  service_id: number;
  slot: number;
  generation: number;
}

/** A slot carries its backend's address and port beside its id (backends_map.h says why). */
export interface SlotValue extends BackendValue {
  backend_id: number;
}

export const backendKeyLayout = defineStruct<BackendKey>('backend_key', [['backend_id', u32]]);

export const backendValueLayout = defineStruct<BackendValue>('backend_value', [
  ['address', lbAddress],
  ['port', be16],
  ['pad', padding(2)],
]);

export const slotKeyLayout = defineStruct<SlotKey>('slot_key', [
  ['service_id', u32],
  ['slot', u16],
  ['generation', u8],
  ['pad', padding(1)],
]);

export const slotValueLayout = defineStruct<SlotValue>('slot_value', [
  ['backend_id', u32],
  ['address', lbAddress],
  ['port', be16],
  ['pad', padding(2)],
]);
