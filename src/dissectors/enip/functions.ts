// Function codes of EtherNet/IP for detection: the CIP service code (response
// bit cleared) for CIP messages, 0x100 + command for encapsulation messages
// without CIP, 0x200 for implicit I/O data. All below 65 536, so they fit the
// detector's small keys. The reasoning per code: docs/protocols/enip.md.
import { CONFIG, CONTROL, DIAGNOSTIC, OTHER, READ, SESSION, WRITE, type FunctionRow } from '../module.js';
import type { EnipPdu } from './parser.js';

/** fc of an encapsulation message that carries no CIP. */
export const ENCAP_FC = 0x100;
/** fc of a class 0/1 implicit I/O datagram (udp/2222). */
export const IO_FC = 0x200;

/** CIP classes whose object-specific services change meaning. */
export const CONNECTION_MANAGER = 0x06;

export const ENIP_FUNCTIONS: readonly FunctionRow[] = [
  [0x01, READ, 'Get_Attributes_All'],
  [0x02, CONFIG, 'Set_Attributes_All'],
  [0x03, READ, 'Get_Attribute_List'],
  [0x04, CONFIG, 'Set_Attribute_List'],
  [0x05, CONTROL, 'Reset'],
  [0x06, CONTROL, 'Start'],
  [0x07, CONTROL, 'Stop'],
  [0x08, CONFIG, 'Create'],
  [0x09, CONFIG, 'Delete'],
  [0x0a, OTHER, 'Multiple_Service_Packet'],
  [0x0d, CONFIG, 'Apply_Attributes'],
  [0x0e, READ, 'Get_Attribute_Single'],
  [0x10, CONFIG, 'Set_Attribute_Single'],
  [0x11, READ, 'Find_Next_Object_Instance'],
  [0x14, OTHER, 'Error_Response'],
  [0x15, CONFIG, 'Restore'],
  [0x16, CONFIG, 'Save'],
  [0x17, OTHER, 'No_Operation'],
  [0x18, READ, 'Get_Member'],
  [0x19, CONFIG, 'Set_Member'],
  [0x1a, CONFIG, 'Insert_Member'],
  [0x1b, CONFIG, 'Remove_Member'],
  [0x1c, OTHER, 'Group_Sync'],
  [0x4b, OTHER, 'Execute_PCCC'],
  [0x4c, READ, 'Read_Tag'],
  [0x4d, WRITE, 'Write_Tag'],
  // Object-specific codes: the Logix tag service, or the Connection Manager's (class 6; see classify).
  [0x4e, WRITE, 'Read_Modify_Write_Tag/Forward_Close'],
  [0x52, READ, 'Read_Tag_Fragmented/Unconnected_Send'],
  [0x53, WRITE, 'Write_Tag_Fragmented'],
  [0x54, SESSION, 'Forward_Open'],
  [0x55, READ, 'Get_Instance_Attribute_List'],
  [0x56, DIAGNOSTIC, 'Get_Connection_Data'],
  [0x57, DIAGNOSTIC, 'Search_Connection_Data'],
  [0x5a, DIAGNOSTIC, 'Get_Connection_Owner'],
  [0x5b, SESSION, 'Large_Forward_Open'],
  [ENCAP_FC + 0x00, OTHER, 'NOP'],
  [ENCAP_FC + 0x01, DIAGNOSTIC, 'ListTargets'],
  [ENCAP_FC + 0x04, DIAGNOSTIC, 'ListServices'],
  [ENCAP_FC + 0x63, DIAGNOSTIC, 'ListIdentity'],
  [ENCAP_FC + 0x64, DIAGNOSTIC, 'ListInterfaces'],
  [ENCAP_FC + 0x65, SESSION, 'RegisterSession'],
  [ENCAP_FC + 0x66, SESSION, 'UnRegisterSession'],
  [ENCAP_FC + 0x6f, OTHER, 'SendRRData'],
  [ENCAP_FC + 0x70, OTHER, 'SendUnitData'],
  [ENCAP_FC + 0x72, OTHER, 'IndicateStatus'],
  [ENCAP_FC + 0x73, OTHER, 'Cancel'],
  [IO_FC, OTHER, 'Implicit_IO'],
];

const CLASS_OF = new Int8Array(0x300).fill(OTHER);
for (const [code, cls] of ENIP_FUNCTIONS) CLASS_OF[code] = cls;

/** Class of one PDU: the table, except the Connection Manager's own meaning
 *  of the object-specific codes it shares with the Logix tag services. */
export function classify(p: EnipPdu): number {
  const fc = p.fc;
  if (fc < 0 || fc >= CLASS_OF.length) return OTHER;
  if (p.cipClass === CONNECTION_MANAGER) {
    if (fc === 0x4e) return SESSION; // Forward_Close
    if (fc === 0x52) return OTHER; // Unconnected_Send whose embedded request did not decode
  }
  return CLASS_OF[fc];
}
