/**
 * The README's quick start: two types that share an object, round-tripped.
 */
import { checkpoint, defineObjType, restart } from '../lib/index.js';

interface Author {
  name: string;
}
interface Book {
  title: string;
  author: Author;
}

const REC_AUTHOR = 101, REC_BOOK = 102, REC_SHELF = 103; // user record types: 101..8999

const AuthorT = defineObjType<Author>({
  name: 'author',
  checkpoint: (ctx, a) => void ctx.begin(REC_AUTHOR).str(a.name).end(),
  restore: (ctx) => (ctx.readRecord(REC_AUTHOR), { name: ctx.str() }),
});
const BookT = defineObjType<Book>({
  name: 'book',
  checkpoint(ctx, b) {
    const author = ctx.checkpointObj(b.author, AuthorT); // written once, before the book
    ctx.begin(REC_BOOK).str(b.title).i32(author).end();
  },
  restore(ctx) {
    ctx.readRecord(REC_BOOK); // restores the author on the way
    const title = ctx.str();
    return { title, author: ctx.objFetch(ctx.i32(), AuthorT) }; // typed: Author
  },
});
const ShelfT = defineObjType<Book[]>({
  name: 'shelf',
  checkpoint(ctx, books) {
    const refs = books.map((b) => ctx.checkpointObj(b, BookT));
    ctx.begin(REC_SHELF).u32(refs.length);
    for (const r of refs) ctx.i32(r);
    ctx.end();
  },
  restore(ctx) {
    ctx.readRecord(REC_SHELF);
    const books: Book[] = [];
    for (let n = ctx.u32(); n > 0; n--) books.push(ctx.objFetch(ctx.i32(), BookT));
    return books;
  },
});

export function quickstart(): { image: Uint8Array; back: Book[] } {
  const le = { name: 'Le Guin' };
  const shelf = [
    { title: 'A Wizard of Earthsea', author: le },
    { title: 'The Dispossessed', author: le },
  ];
  const types = [ShelfT, BookT, AuthorT];
  const image = checkpoint(shelf, ShelfT, { types }); // Uint8Array
  const back = restart(image, ShelfT, { types });
  return { image, back };
}

if (require.main === module) {
  const { image, back } = quickstart();
  console.log(`${image.length} bytes; shared author restored once:`, back[0]!.author === back[1]!.author);
}
