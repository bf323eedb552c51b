import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { mircColourToHex, nearestMircColour, parseCssColour, MIRC_PALETTE } from "./colours.js";
import {
  applyCode,
  colourCode,
  joinCodes,
  PLAIN_STYLE,
  sealCodes,
  stripIrcFormatting,
  styleCodes,
  tokenize,
  transitionCodes,
  type IrcStyle,
} from "./mirc.js";
import { rendered } from "./test-helpers.js";

describe("tokenize", () => {
  it("keeps colour parameters with their code", () => {
    assert.deepEqual(tokenize("\x0304,12red\x03x\x02"), [
      { type: "code", code: "\x0304,12" },
      { type: "text", text: "red" },
      { type: "code", code: "\x03" },
      { type: "text", text: "x" },
      { type: "code", code: "\x02" },
    ]);
  });

  it("takes at most two digits and needs a digit after the comma", () => {
    assert.deepEqual(tokenize("\x03123"), [
      { type: "code", code: "\x0312" },
      { type: "text", text: "3" },
    ]);
    assert.deepEqual(tokenize("\x0304,x"), [
      { type: "code", code: "\x0304" },
      { type: "text", text: ",x" },
    ]);
    assert.deepEqual(tokenize("\x03,05"), [
      { type: "code", code: "\x03" },
      { type: "text", text: ",05" },
    ]);
    assert.deepEqual(tokenize("\x04FF0000,00ff00!\x04zz"), [
      { type: "code", code: "\x04FF0000,00ff00" },
      { type: "text", text: "!" },
      { type: "code", code: "\x04" },
      { type: "text", text: "zz" },
    ]);
  });

  it("strips every code", () => {
    assert.equal(stripIrcFormatting("\x02b\x1di\x1fu\x1es\x11m\x16r\x0f\x034,5c\x03\x04aabbccd"), "biusmrcd");
  });
});

describe("applyCode", () => {
  it("keeps the background when only the foreground changes, resets both on a bare \\x03", () => {
    let style: IrcStyle = { ...PLAIN_STYLE };
    style = applyCode(style, "\x0304,02");
    style = applyCode(style, "\x0308");
    assert.deepEqual(
      [style.fg, style.bg],
      [
        { kind: "index", index: 8 },
        { kind: "index", index: 2 },
      ],
    );
    style = applyCode(style, "\x03");
    assert.deepEqual([style.fg, style.bg], [null, null]);
  });

  it("treats 99 as the default colour and \\x0F as a full reset", () => {
    const style = applyCode({ ...PLAIN_STYLE, bold: true }, "\x0399,04");
    assert.equal(style.fg, null);
    assert.deepEqual(style.bg, { kind: "index", index: 4 });
    assert.deepEqual(applyCode(style, "\x0f"), PLAIN_STYLE);
  });
});

describe("codes for a style", () => {
  it("round-trips every style through styleCodes", () => {
    const styles: IrcStyle[] = [
      { ...PLAIN_STYLE, bold: true, underline: true },
      { ...PLAIN_STYLE, fg: { kind: "index", index: 4 } },
      { ...PLAIN_STYLE, fg: { kind: "index", index: 4 }, bg: { kind: "index", index: 12 }, italic: true },
      { ...PLAIN_STYLE, bg: { kind: "index", index: 3 } },
      { ...PLAIN_STYLE, fg: { kind: "hex", hex: "#123456" }, bg: { kind: "index", index: 1 } },
      { ...PLAIN_STYLE, strikethrough: true, monospace: true, reverse: true },
    ];
    for (const style of styles) {
      let parsed: IrcStyle = { ...PLAIN_STYLE };
      for (const token of tokenize(styleCodes(style))) {
        if (token.type === "code") parsed = applyCode(parsed, token.code);
      }
      assert.deepEqual(
        rendered(`${sealCodes(styleCodes(parsed))}x`),
        rendered(`${sealCodes(styleCodes(style))}x`),
      );
    }
  });

  it("drops a background explicitly (\\x03FG alone would keep it)", () => {
    const from: IrcStyle = {
      ...PLAIN_STYLE,
      fg: { kind: "index", index: 4 },
      bg: { kind: "index", index: 2 },
    };
    const to: IrcStyle = { ...PLAIN_STYLE, fg: { kind: "index", index: 4 } };
    assert.deepEqual(rendered(`\x0304,02a${transitionCodes(from, to)}b`), rendered("\x0304,02a\x03\x0304b"));
    assert.equal(colourCode({ kind: "index", index: 3 }, null), "\x0303");
  });

  it("separates a colour code from text that would extend it", () => {
    assert.equal(joinCodes("\x03", "5 apples"), "\x03\x02\x025 apples");
    assert.equal(joinCodes("\x0304", ",12"), "\x0304\x02\x02,12");
    assert.equal(joinCodes("\x0304", "5"), "\x03045");
    assert.equal(joinCodes("\x0304,02", "5"), "\x0304,025");
    assert.equal(joinCodes("\x03", ",5"), "\x03\x02\x02,5");
    assert.equal(joinCodes("\x04ff0000", ",00ff00"), "\x04ff0000\x02\x02,00ff00");
    assert.equal(joinCodes("x\x03y", "5"), "x\x03y5");
    assert.equal(sealCodes("\x0304"), "\x0304\x02\x02");
    assert.equal(sealCodes("\x0304\x02"), "\x0304\x02");
  });
});

describe("colours", () => {
  it("has the classic and extended palette", () => {
    assert.equal(MIRC_PALETTE.length, 99);
    assert.equal(mircColourToHex(4), "#ff0000");
    assert.equal(mircColourToHex(15), "#d2d2d2");
    assert.equal(mircColourToHex(16), "#470000");
    assert.equal(mircColourToHex(98), "#ffffff");
    assert.equal(mircColourToHex(99), null);
  });

  it("maps any colour to the nearest classic one, exact ones to themselves", () => {
    for (let index = 0; index < 16; index++) {
      assert.equal(nearestMircColour(mircColourToHex(index) ?? ""), index);
    }
    assert.equal(nearestMircColour("#fe0101"), 4);
    assert.equal(nearestMircColour("#ffa500"), 7);
    assert.equal(nearestMircColour("#0a0a0a"), 1);
  });

  it("parses CSS colours", () => {
    assert.equal(parseCssColour("#F00"), "#ff0000");
    assert.equal(parseCssColour(" Red "), "#ff0000");
    assert.equal(parseCssColour("#12345"), null);
    assert.equal(parseCssColour("rebeccapurple"), null);
  });
});
