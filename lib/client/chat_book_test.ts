import assert from "node:assert/strict";
import { ChatBook } from "./chat_book.ts";

Deno.test("ChatBook keeps names per account and finds numbers by name, whatever the case", async () => {
  const dir = await Deno.makeTempDir();
  const book = await ChatBook.open(dir, "+12015550101");
  const other = await ChatBook.open(dir, "+12015550199");
  try {
    book.setName("+12015550102", " Bob ");
    assert.equal(book.nameOf("+12015550102"), "Bob");
    assert.equal(book.phoneNamed("bob"), "+12015550102");
    assert.equal(other.phoneNamed("Bob"), undefined);
    assert.throws(() => book.setName("+12015550103", "BOB"), /already called/);
    assert.throws(() => book.setName("+12015550103", "+1 evil"), RangeError);
    assert.throws(() => book.setName("+12015550103", "a,b"), RangeError);
    assert.throws(() => book.setName("+12015550103", "x".repeat(65)), RangeError);
    book.setName("+12015550102", "");
    assert.equal(book.nameOf("+12015550102"), undefined);
  } finally {
    book.close();
    other.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ChatBook counts unread messages per conversation until it is shown", async () => {
  const dir = await Deno.makeTempDir();
  const book = await ChatBook.open(dir, "+12015550101");
  try {
    book.noteMessage(["+12015550102"], 1000, true);
    book.noteMessage(["+12015550102"], 2000, true);
    book.noteMessage(["+12015550103", "+12015550102"], 1500, true);
    book.noteMessage(["+12015550102", "+12015550103"], 1600, false);
    assert.deepEqual(book.chats(), [
      { members: ["+12015550102"], lastAt: 2000, unread: 2 },
      { members: ["+12015550102", "+12015550103"], lastAt: 1600, unread: 1 },
    ]);
    book.markRead(["+12015550102"]);
    assert.equal(book.chats()[0]!.unread, 0);
  } finally {
    book.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ChatBook's outbox keeps texts in order, across reopening, until taken out", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const book = await ChatBook.open(dir, "+12015550101");
    book.queue({ id: "a", members: ["+12015550102"], text: "first" });
    book.queue({ id: "b", members: ["+12015550103", "+12015550102"], text: "second\nline" });
    assert.throws(() => book.queue({ id: "a", members: ["+12015550102"], text: "again" }));
    book.close();
    const reopened = await ChatBook.open(dir, "+12015550101");
    assert.deepEqual(reopened.queued(), [
      { id: "a", members: ["+12015550102"], text: "first" },
      { id: "b", members: ["+12015550102", "+12015550103"], text: "second\nline" },
    ]);
    reopened.unqueue("a");
    assert.deepEqual(reopened.queued().map((q) => q.id), ["b"]);
    reopened.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
