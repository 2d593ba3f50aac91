// User input on the page, forwarded to the intents: the form, the buttons, the talk
// button (pointer with capture, touch, pen), the Space and Esc keys, and focus loss.

function isTyping(target) {
  return (
    target instanceof HTMLElement &&
    (target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName))
  );
}

/** Wire the elements `el` (from createView) to `intents`. */
export function bindInput(doc, el, intents) {
  const readForm = () => ({
    room: el.room.value.trim(),
    identity: el.identity.value.trim(),
    agent: el.agent.value.trim(),
    accessKey: el.accessKey ? el.accessKey.value : '',
  });
  for (const input of [el.room, el.identity, el.agent, el.accessKey]) {
    input?.addEventListener('input', () => intents.formChanged(readForm()));
  }
  el.form.addEventListener('submit', (e) => {
    e.preventDefault();
    intents.formChanged(readForm());
    intents.connect();
  });
  el.disconnect.addEventListener('click', () => intents.disconnect());
  el.device.addEventListener('change', () => intents.selectDevice(el.device.value));
  el.cancel.addEventListener('click', () => intents.cancel());
  el.pause.addEventListener('click', () => intents.pause());
  el.resume.addEventListener('click', () => intents.resume());
  el.rebuild.addEventListener('click', () => intents.rebuild());
  el.startAudio.addEventListener('click', () => intents.startAudio());
  el.exportLog.addEventListener('click', () => intents.exportLog());
  el.exportReport.addEventListener('click', () => intents.exportReport());
  el.openReport.addEventListener('change', () => {
    const file = el.openReport.files?.[0];
    if (file) intents.openReport(file);
    el.openReport.value = '';
  });
  // a report dropped anywhere on the page opens it
  doc.addEventListener('dragover', (e) => e.preventDefault());
  doc.addEventListener('drop', (e) => {
    const file = e.dataTransfer?.files?.[0];
    if (!file) return;
    e.preventDefault();
    intents.openReport(file);
  });
  el.clearLog.addEventListener('click', () => intents.clearLog());

  // Talk button: pointer capture so releasing anywhere ends the turn; touch and pen too.
  let pointerId = null;
  el.ptt.addEventListener('pointerdown', (e) => {
    if (e.pointerType === 'mouse' && e.button !== 0) return;
    if (el.ptt.disabled || pointerId !== null) return;
    e.preventDefault();
    pointerId = e.pointerId;
    el.ptt.setPointerCapture(e.pointerId);
    intents.press();
  });
  const endPointer = (e, cancel) => {
    if (e.pointerId !== pointerId) return;
    pointerId = null;
    if (cancel) intents.cancel();
    else intents.release();
  };
  el.ptt.addEventListener('pointerup', (e) => endPointer(e, false));
  el.ptt.addEventListener('pointercancel', (e) => endPointer(e, true));
  el.ptt.addEventListener('lostpointercapture', (e) => endPointer(e, false));
  el.ptt.addEventListener('contextmenu', (e) => e.preventDefault());

  // Space held = talk (not while typing; key repeat ignored). Esc cancels.
  let spaceHeld = false;
  doc.addEventListener('keydown', (e) => {
    if (e.code === 'Space') {
      if (isTyping(e.target)) return;
      e.preventDefault(); // no page scroll, no click on a focused button
      if (e.repeat || spaceHeld) return;
      spaceHeld = true;
      intents.press();
    } else if (e.key === 'Escape') {
      intents.escape();
    }
  });
  doc.addEventListener('keyup', (e) => {
    if (e.code !== 'Space' || !spaceHeld) return;
    e.preventDefault();
    spaceHeld = false;
    intents.release();
  });
  const lost = (why) => {
    spaceHeld = false;
    pointerId = null;
    intents.focusLost(why);
  };
  doc.defaultView.addEventListener('blur', () => lost('window lost focus'));
  doc.addEventListener('visibilitychange', () => {
    if (doc.visibilityState === 'hidden') lost('page hidden');
  });
}
