/**
 * Arabic message catalog for `<call-widget>`: Modern Standard Arabic for
 * Arabic-speaking users, in the style of the Arabic UIs of Google Meet and
 * Zoom. Any key missing here falls back to English (`en` in messages.ts).
 * Selected by `lang="ar"` (on the widget, an ancestor or the page); the widget
 * then lays itself out right to left unless an ancestor sets `dir`.
 */
import type { Messages } from './messages.ts';

/** Arabic (ar). */
const messages: Messages = {
  join: 'الانضمام إلى المكالمة',
  joinNow: 'انضم الآن',
  cancel: 'إلغاء',
  lobby: 'الكاميرا والميكروفون',
  camera: 'الكاميرا',
  microphone: 'الميكروفون',
  speaker: 'مكبّر الصوت',
  yourName: 'اسمك',
  micLevel: 'مستوى الميكروفون',
  deviceLost: 'انقطع اتصال {device}؛ يُستخدم {fallback}',
  'state-lobby': 'جارٍ التحضير',
  rejoin: 'إعادة الانضمام',
  retry: 'إعادة المحاولة',
  hangup: 'إنهاء المكالمة',
  mute: 'كتم الميكروفون',
  cameraOff: 'إيقاف الكاميرا',
  copyInvite: 'نسخ رابط الدعوة',
  inviteCopied: 'تم نسخ رابط الدعوة',
  inviteManual: 'انسخ هذا الرابط لدعوة شخص ما',
  controls: 'عناصر التحكم في المكالمة',
  you: 'أنت',
  remoteVideo: 'فيديو {name}',
  localVideo: 'كاميرتك',
  guest: 'ضيف',
  cameraIsOff: 'الكاميرا متوقفة',
  micIsOff: 'الميكروفون متوقف',
  peerHere: '{name} هنا',
  peerJoined: 'انضم {name}',
  peerLeft: 'غادر {name}',
  peerHungUp: 'أنهى {name} المكالمة',
  roomReconnecting: 'جارٍ إعادة الاتصال بالغرفة',
  connectionLost: 'انقطع الاتصال، جارٍ إعادة الاتصال…',
  lockRoom: 'قفل الغرفة',
  roomLocked: 'تم قفل الغرفة: على القادمين الجدد طلب الإذن بالدخول',
  roomUnlocked: 'تم إلغاء قفل الغرفة',
  knocks: 'بانتظار الانضمام',
  knocking: 'طلب انضمام من {name}',
  admit: 'قبول',
  reject: 'رفض',
  admitName: 'قبول {name}',
  rejectName: 'رفض {name}',
  'state-idle': 'يمكنك الانضمام الآن',
  'state-joining': 'جارٍ الانضمام…',
  'state-knocking': 'بانتظار أن يسمح لك المضيف بالدخول',
  'state-waiting': 'بانتظار انضمام شخص آخر',
  'state-connecting': 'جارٍ الاتصال…',
  'state-connected': 'تم الاتصال',
  'state-reconnecting': 'جارٍ إعادة الاتصال…',
  'state-ended': 'انتهت المكالمة',
  'state-failed': 'تعذّر إجراء المكالمة',
  'error-permission-denied':
    'تم رفض الوصول إلى الكاميرا والميكروفون. يُرجى السماح بالوصول من رمز الكاميرا في شريط العناوين، ثم إعادة المحاولة.',
  'error-device-not-found': 'لم يتم العثور على كاميرا أو ميكروفون. يُرجى توصيل أحدهما، ثم إعادة المحاولة.',
  'error-device-in-use': 'الكاميرا أو الميكروفون قيد الاستخدام في تطبيق آخر. يُرجى إغلاقه، ثم إعادة المحاولة.',
  'error-constraints-unsatisfied': 'لا تدعم الكاميرا الإعدادات المطلوبة.',
  'error-insecure-context': 'تتطلب المكالمات صفحة آمنة (HTTPS).',
  'error-permission-policy-blocked': 'لا تسمح هذه الصفحة باستخدام الكاميرا والميكروفون (السمة "allow" في iframe).',
  'error-unsupported-browser': 'لا يمكن إجراء مكالمات فيديو من هذا المتصفح.',
  'error-media-failed': 'تعذّر تشغيل الكاميرا أو الميكروفون.',
  'error-room-full': 'هذه المكالمة ممتلئة.',
  'error-room-unavailable': 'هذه المكالمة غير متاحة.',
  'error-forbidden-origin': 'غير مسموح لهذه الصفحة باستخدام خادم المكالمات.',
  'error-rate-limited': 'طلبات كثيرة جدًا؛ قطع خادم المكالمات اتصالك.',
  'error-room-unreachable': 'يتعذّر الوصول إلى خادم المكالمات. يُرجى التحقق من اتصالك.',
  'error-connection-failed': 'فشل الاتصال بالطرف الآخر.',
};

export default messages;
