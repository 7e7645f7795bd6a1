/**
 * The one place lib/schema reaches the plain-value codec (lib/values), for
 * fields of kind 'value': a value inline in a FIELDS record (primitives
 * inline, objects as objrefs through the RefWriter), and its dump form.
 * lib/values' describeTagged is the dump of such a tagged value (its
 * describeValue is that of a whole VALUE body); it also keeps the dump
 * state in step, so describeFields calls it for every 'value' field.
 */
export { writeTagged, readTagged, describeTagged as describeValue, type ValueCodecState } from '../values/index.js';
