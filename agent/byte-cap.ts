/**
 * The one way the agent bounds a stream it did not make (an archive, a tarball, git's output, the
 * agent's own dependencies as the preview pod receives them): what passes is counted, and the
 * stream fails past the limit, so a source that never ends costs at most the limit.
 */
import { Transform } from "node:stream";

export class ByteCap extends Transform {
    /** The bytes that have passed (the chunk that went over the limit included). */
    bytes = 0;
    /** Whether the limit was passed (the stream then failed with `over()`'s error). */
    overLimit = false;

    /** @param over the error the stream fails with, made once the limit is passed (it may also stop whatever feeds the stream). */
    constructor(private readonly maxBytes: number, private readonly over: () => Error) {
        super();
    }

    override _transform(chunk: Buffer, _enc: BufferEncoding, done: (e?: Error | null, data?: Buffer) => void): void {
        this.bytes += chunk.length;
        if (this.bytes > this.maxBytes) {
            this.overLimit = true;
            return done(this.over());
        }
        done(null, chunk);
    }
}
