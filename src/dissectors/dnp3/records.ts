// The dnp3 members of the PDU and flow records, written as bytes (the hot
// path of --pdus); beside the parser the way Suricata keeps log.rs beside
// the parser.
import { lit, type JsonOut } from '../../output/json-out.js';
import type { Dnp3Pdu, Dnp3State } from './parser.js';

/** The PDU member's constant pieces, encoded once (JsonOut.lit). */
const PJ = {
  src: lit('{"src":'),
  dst: lit(',"dst":'),
  linkFc: lit(',"link_fc":'),
  fc: lit(',"fc":'),
  null: lit('null'),
  iin: lit(',"iin":'),
  objects: lit(',"objects":['),
  variation: lit(',"variation":'),
  qualifier: lit(',"qualifier":'),
  count: lit(',"count":'),
  close: lit('}'),
  listEnd: lit(']'),
  truncated: lit(',"objects_truncated":true'),
  unsTrue: lit(',"uns":true'),
  unsFalse: lit(',"uns":false'),
  nextGroup: lit(',{"group":'),
  group: lit('{"group":'),
  crcTrue: lit(',"crc_ok":true}'),
  crcFalse: lit(',"crc_ok":false}'),
};

export function writeDnp3Pdu(o: JsonOut, p: Dnp3Pdu): void {
  o.lit(PJ.src);
  o.num(p.src);
  o.lit(PJ.dst);
  o.num(p.dst);
  o.lit(PJ.linkFc);
  o.num(p.link_fc);
  o.lit(PJ.fc);
  if (p.fc < 0) o.lit(PJ.null);
  else o.num(p.fc);
  o.lit(PJ.iin);
  if (p.iin < 0) o.lit(PJ.null);
  else o.num(p.iin);
  o.lit(p.uns ? PJ.unsTrue : PJ.unsFalse);
  if (p.nobjects > 0) {
    o.lit(PJ.objects);
    for (let i = 0; i < p.nobjects; i++) {
      const ob = p.objects[i];
      o.lit(i ? PJ.nextGroup : PJ.group);
      o.num(ob.group);
      o.lit(PJ.variation);
      o.num(ob.variation);
      o.lit(PJ.qualifier);
      o.num(ob.qualifier);
      o.lit(PJ.count);
      o.num(ob.count);
      o.lit(PJ.close);
    }
    o.lit(PJ.listEnd);
  }
  if (p.objects_truncated) o.lit(PJ.truncated);
  o.lit(p.crc_ok ? PJ.crcTrue : PJ.crcFalse);
}

export function writeDnp3Flow(o: JsonOut, st: Dnp3State): void {
  o.raw('{"fc":');
  st.fcCount.write(o);
  o.raw(',"crc_errors":');
  o.num(st.crcErrors);
  o.raw(',"link_frames":');
  o.num(st.linkFrames);
  o.raw(',"link_only":');
  o.num(st.linkOnly);
  o.raw(',"segments":');
  o.num(st.segments);
  o.raw(',"fragments":');
  o.num(st.fragments);
  o.raw(',"unsolicited":');
  o.num(st.unsolicited);
  o.raw(',"dropped_fragments":');
  o.num(st.dropped);
  o.raw('}');
}
