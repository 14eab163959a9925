// markdown renders the plain Markdown of the face-entry notice as DOM nodes (the text is
// the server's, and still never goes through innerHTML): headings, paragraphs, lists
// (also a list that follows its lead-in line without a blank line), **strong** and
// *emphasis*. Lines of a paragraph are joined with joiner: a space in English, nothing
// in Chinese, where a line break inside a sentence is not a space.
import { el } from './ui.js';

function inline(text) {
  return text.split(/(\*\*[^*]+\*\*|\*[^*\s][^*]*\*)/).filter(Boolean).map((part) => {
    if (part.length > 4 && part.startsWith('**') && part.endsWith('**')) return el('strong', {}, part.slice(2, -2));
    if (part.length > 2 && part.startsWith('*') && part.endsWith('*')) return el('em', {}, part.slice(1, -1));
    return part;
  });
}

export function markdown(text, joiner) {
  const out = [];
  for (const block of text.split(/\n\s*\n/)) {
    let para = [];
    let items = null; // the list being read: an array of arrays of lines
    const flush = () => {
      if (para.length) out.push(el('p', {}, ...inline(para.join(joiner))));
      if (items) out.push(el('ul', {}, ...items.map((lines) => el('li', {}, ...inline(lines.join(joiner))))));
      para = [];
      items = null;
    };
    for (const line of block.split('\n')) {
      if (!line.trim()) continue;
      const heading = /^(#{1,3})\s+(.*)$/.exec(line);
      const item = /^\s*(?:[-*]|\d+\.)\s+(.*)$/.exec(line);
      if (heading) {
        flush();
        out.push(el('h3', {}, ...inline(heading[2].trim())));
      } else if (item) {
        if (para.length) {
          out.push(el('p', {}, ...inline(para.join(joiner))));
          para = [];
        }
        (items ||= []).push([item[1].trim()]);
      } else if (items && /^\s{2,}/.test(line)) {
        items[items.length - 1].push(line.trim());
      } else {
        if (items) flush();
        para.push(line.trim());
      }
    }
    flush();
  }
  return out;
}
